"""Conversation hooks: observers of conversation events that record findings with a priority.

The generic hooks are built in (`hooks.builtin`); packs add their own, usually about one domain,
under the `convoload.hooks` entry-point group: the `HOOKS` registry.
"""

from __future__ import annotations

import inspect
from typing import Any

from convoload import plugins
from convoload.hooks.base import FunctionHook, Hook


def _hook_class(obj: Any) -> type[Hook]:
    if not (inspect.isclass(obj) and issubclass(obj, Hook)) or issubclass(obj, FunctionHook):
        raise ValueError("is not a Hook subclass (convoload.hooks.base.Hook)")
    return obj


HOOKS: plugins.Registry[type[Hook]] = plugins.Registry(plugins.HOOKS, "hook", _hook_class)

__all__ = ["HOOKS"]
