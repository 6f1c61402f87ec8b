"""Build the hooks a run uses from the config's `hooks` section and the run's domains."""

from __future__ import annotations

import inspect
from collections.abc import Iterable

from convoload.config import Config, config_error
from convoload.hooks.base import FunctionHook, Hook
from convoload.hooks.builtin import BUILTIN_HOOKS
from convoload.personas.model import Persona


def run_domains(config: Config, personas: Iterable[Persona]) -> frozenset[str]:
    """What a run's conversations are about: its personas' playbooks, and the bundled agent's domain."""
    domains = {persona.playbook for persona in personas}
    if config.target.type == "demo":
        domains.add(config.target.demo.agent)
    return frozenset(domains)


def build_hooks(config: Config, domains: Iterable[str] | None = None) -> list[Hook]:
    """The enabled hooks. A built-in hook tied to domains runs when `domains` (the run's, see
    `run_domains`; None = every domain) shares one with it, or when `hooks.any_domain` names it;
    `hooks.disabled` always wins. Custom hooks always run."""
    section = config.hooks
    if not section.enabled:
        return []
    known = ", ".join(BUILTIN_HOOKS)
    for field, names in (("disabled", section.disabled), ("any_domain", section.any_domain)):
        for i, name in enumerate(names):
            if name not in BUILTIN_HOOKS:
                message = f"unknown hook {name!r} (built in: {known})"
                raise config_error(config, f"hooks.{field}[{i}]", message)
    run_in = None if domains is None else frozenset(domains)
    hooks: list[Hook] = []
    for name, cls in BUILTIN_HOOKS.items():
        if name in section.disabled:
            continue
        try:  # built even when off for this run's domain: a bad threshold is an error in every run
            hook = cls(**section.thresholds.get(name, {}))
        except ValueError as exc:
            raise config_error(config, f"hooks.thresholds.{name}", str(exc)) from None
        off_domain = run_in is not None and cls.domains is not None and cls.domains.isdisjoint(run_in)
        if not off_domain or name in section.any_domain:
            hooks.append(hook)
    for name in section.thresholds:
        if name not in BUILTIN_HOOKS:
            raise config_error(config, f"hooks.thresholds.{name}", f"unknown hook (built in: {known})")
    for i, spec in enumerate(section.custom):
        hooks.append(_custom(config, spec, f"hooks.custom[{i}]"))
    return hooks


def _custom(config: Config, spec: str, field: str) -> Hook:
    from convoload.targets.python import import_callable

    try:
        obj = import_callable(spec)
    except ValueError as exc:
        raise config_error(config, field, str(exc)) from None
    if inspect.isclass(obj) and issubclass(obj, Hook):
        return obj()
    return FunctionHook(obj, name=spec.rsplit(":", 1)[-1])
