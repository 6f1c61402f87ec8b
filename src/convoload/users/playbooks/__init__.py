"""Playbooks: how a scripted customer of a given domain reacts to an agent's messages.

An open registry: packs register `Playbook` subclasses under the `convoload.playbooks` entry-point
group (the demo pack registers `tickets` and `realestate`); a persona may also name one as
`module:Class`.
"""

from __future__ import annotations

import inspect
from typing import Any

from convoload import plugins
from convoload.errors import ConfigError
from convoload.personas.model import Persona
from convoload.users.playbooks.base import Playbook


def _playbook_class(obj: Any) -> type[Playbook]:
    if not (inspect.isclass(obj) and issubclass(obj, Playbook)):
        raise ValueError("is not a Playbook subclass (convoload.users.playbooks.Playbook)")
    if inspect.isabstract(obj):
        raise ValueError("leaves opening() or respond() unimplemented")
    return obj


PLAYBOOKS: plugins.Registry[type[Playbook]] = plugins.Registry(plugins.PLAYBOOKS, "playbook", _playbook_class)


def installed() -> str:
    """The registered playbook names, for error messages."""
    return ", ".join(PLAYBOOKS.names()) or "none installed"


def playbook_for(persona: Persona, default: str | type[Playbook] | None = None) -> type[Playbook]:
    """The playbook a scripted user plays `persona` with: the persona's own, else `default` (the
    bundled system's when the target is one). A registered name or `module:Class`.

    ConfigError naming the persona's file and its field `playbook` when there is none or it is unknown.
    """
    spec = persona.playbook or default
    where = persona.source or persona.name
    if spec is None:
        raise ConfigError(where, "playbook", f"scripted users need a playbook (installed: {installed()})")
    try:
        if isinstance(spec, str):
            return PLAYBOOKS.resolve(spec)
        return _playbook_class(spec)
    except KeyError as exc:
        raise ConfigError(where, "playbook", str(exc.args[0])) from None
    except ValueError as exc:
        raise ConfigError(where, "playbook", f"{spec!r} {exc}") from None


__all__ = ["PLAYBOOKS", "Playbook", "installed", "playbook_for"]
