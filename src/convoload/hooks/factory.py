"""Build the hooks a run uses from the config's `hooks` section."""

from __future__ import annotations

import inspect

from convoload.config import Config, config_error
from convoload.hooks.base import FunctionHook, Hook
from convoload.hooks.builtin import BUILTIN_HOOKS


def build_hooks(config: Config) -> list[Hook]:
    section = config.hooks
    if not section.enabled:
        return []
    known = ", ".join(BUILTIN_HOOKS)
    for i, name in enumerate(section.disabled):
        if name not in BUILTIN_HOOKS:
            raise config_error(config, f"hooks.disabled[{i}]", f"unknown hook {name!r} (built in: {known})")
    hooks: list[Hook] = []
    for name, cls in BUILTIN_HOOKS.items():
        if name in section.disabled:
            continue
        try:
            hooks.append(cls(**section.thresholds.get(name, {})))
        except ValueError as exc:
            raise config_error(config, f"hooks.thresholds.{name}", str(exc)) from None
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
