"""Build the hooks a run uses from the config's `hooks` section and the run's domains."""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from contextlib import suppress

from convoload.config import Config, config_error
from convoload.hooks import HOOKS
from convoload.hooks.base import FunctionHook, Hook
from convoload.hooks.builtin import BUILTIN_HOOKS
from convoload.personas.model import Persona

_PRIORITY_RANK = {"critical": 0, "business": 1, "quality": 2}


def run_domains(config: Config, personas: Iterable[Persona]) -> frozenset[str]:
    """What a run's conversations are about: its personas' playbooks (a playbook's `domain`, else its
    name as written), and the domains of the bundled system it talks to."""
    from convoload.users.playbooks import PLAYBOOKS

    domains: set[str] = set()
    for persona in personas:
        if persona.playbook:
            try:
                domains.add(PLAYBOOKS.resolve(persona.playbook).domain or persona.playbook)
            except KeyError:  # reported where the persona is checked; here it is about no domain
                domains.add(persona.playbook)
    if config.target.type == "demo":
        from convoload.bundled import bundled_agent

        with suppress(ValueError):  # an unknown agent is the target's error, reported where it is built
            domains.update(bundled_agent(config.target.demo.agent).domains)
    return frozenset(domains)


def installed_hooks(config: Config) -> dict[str, type[Hook]]:
    """Every hook a run may use by name: the built-in ones, then the installed packs' (by name).

    A pack may register a subclass of a built-in hook under its name (an agent-specific reading of the
    same finding); it takes the built-in one's place.
    """
    hooks = dict(BUILTIN_HOOKS)
    for name in HOOKS.names():
        try:
            cls = HOOKS.get(name)
        except KeyError as exc:
            raise config_error(config, "hooks", str(exc.args[0])) from None
        where = f"{cls.__module__}:{cls.__qualname__}"
        if cls.name != name:
            message = f"hook {name!r} ({where}) reports findings as {cls.name!r}: register it under that name"
            raise config_error(config, "hooks", message)
        builtin = BUILTIN_HOOKS.get(name)
        if builtin is not None and not issubclass(cls, builtin):
            raise config_error(
                config, "hooks", f"hook {name!r} ({where}) replaces a built-in one it does not extend"
            )
        hooks[name] = cls
    return hooks


def build_hooks(config: Config, domains: Iterable[str] | None = None) -> list[Hook]:
    """The enabled hooks, in order of priority (critical, business, quality; within one, built in first),
    then the custom ones.

    The built-in hooks and the installed packs' (`HOOKS`) run unless `hooks.disabled` names them; one
    tied to domains runs when `domains` (the run's, see `run_domains`; None = every domain) shares one
    with it, or when `hooks.any_domain` or `hooks.custom` names it. `hooks.custom` adds hooks by
    registered name or `module:attr` (a Hook subclass or a function); `disabled` always wins.
    """
    section = config.hooks
    if not section.enabled:
        return []
    installed = installed_hooks(config)
    known = ", ".join(installed)
    for field, names in (("disabled", section.disabled), ("any_domain", section.any_domain)):
        for i, name in enumerate(names):
            if name not in installed:
                message = f"unknown hook {name!r} (installed: {known})"
                raise config_error(config, f"hooks.{field}[{i}]", message)
    for name in section.thresholds:
        if name not in installed:
            raise config_error(
                config, f"hooks.thresholds.{name}", f"unknown hook {name!r} (installed: {known})"
            )
    named = {spec for spec in section.custom if spec in installed}
    run_in = None if domains is None else frozenset(domains)
    hooks: list[Hook] = []
    for name, cls in installed.items():
        if name in section.disabled:
            continue
        try:  # built even when off for this run's domain: a bad threshold is an error in every run
            hook = cls(**section.thresholds.get(name, {}))
        except ValueError as exc:
            raise config_error(config, f"hooks.thresholds.{name}", str(exc)) from None
        off_domain = run_in is not None and cls.domains is not None and cls.domains.isdisjoint(run_in)
        if not off_domain or name in section.any_domain or name in named:
            hooks.append(hook)
    hooks.sort(key=lambda hook: _PRIORITY_RANK.get(hook.priority, len(_PRIORITY_RANK)))  # stable
    for i, spec in enumerate(section.custom):
        if spec not in named:
            hooks.append(_custom(config, spec, f"hooks.custom[{i}]", known))
    return hooks


def _custom(config: Config, spec: str, field: str, known: str) -> Hook:
    from convoload.plugins import import_callable

    if ":" not in spec:
        raise config_error(config, field, f"unknown hook {spec!r} (installed: {known}; or module:attribute)")
    try:
        obj = import_callable(spec)
    except ValueError as exc:
        raise config_error(config, field, str(exc)) from None
    if inspect.isclass(obj) and issubclass(obj, Hook):
        return obj()
    return FunctionHook(obj, name=spec.rsplit(":", 1)[-1])
