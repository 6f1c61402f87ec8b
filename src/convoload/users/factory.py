"""Make the simulated user for one conversation."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from convoload.errors import ConfigError
from convoload.events import Event
from convoload.identity import Identity
from convoload.personas.model import Persona
from convoload.users.base import SimulatedUser
from convoload.users.fixed import FixedUser
from convoload.users.llm import LLMSettings, LLMUser
from convoload.users.playbooks import playbook_for
from convoload.users.scripted import ScriptedUser

if TYPE_CHECKING:
    from convoload.config import Config


def persona_errors(
    personas: list[Persona], *, default_playbook: str | None = None, scripted: bool = False
) -> list[ConfigError]:
    """What would stop these personas from being played, each naming the persona's file and field: a
    playbook that is not installed, and for scripted users (`scripted`) no playbook at all (neither the
    persona's own nor `default_playbook`, the bundled system's). LLM users need none."""
    errors = []
    for persona in personas:
        if persona.playbook is None and not scripted:
            continue
        try:
            playbook_for(persona, default_playbook)
        except ConfigError as exc:
            errors.append(exc)
    return errors


def check_personas(personas: list[Persona]) -> list[str]:
    """Problems of persona files on their own (whatever the target), as 'source: field: message'."""
    return [str(error) for error in persona_errors(personas)]


def bundled_playbook(config: Config) -> str | None:
    """The playbook of the bundled system a config's target is (None for any other target)."""
    if config.target.type != "demo":
        return None
    from convoload.bundled import bundled_agent

    try:
        return bundled_agent(config.target.demo.agent).playbook
    except ValueError:
        return None  # an unknown agent is the target's error, reported where the target is built


def with_playbooks(personas: list[Persona], default_playbook: str | None) -> list[Persona]:
    """The personas as a run plays them: one that names no playbook gets `default_playbook`.

    Done once, when a run loads its personas, so that its scripted users, its domains (for domain
    hooks) and an LLM user's persona data all see the same playbook.
    """
    if default_playbook is None:
        return personas
    return [p if p.playbook else p.model_copy(update={"playbook": default_playbook}) for p in personas]


def playable_personas(personas: list[Persona], config: Config, *, own_user: bool = False) -> list[Persona]:
    """A run's personas, each with the playbook it is played with (`with_playbooks`); the first
    problem (`persona_errors`) is raised as a ConfigError. With `own_user` (a user factory of the
    caller's plays every conversation) a scripted persona needs no playbook."""
    default = bundled_playbook(config)
    scripted = config.user.type == "scripted" and not own_user
    errors = persona_errors(personas, default_playbook=default, scripted=scripted)
    if errors:
        raise errors[0]
    return with_playbooks(personas, default)


def build_user(
    kind: str,
    persona: Persona,
    identity: Identity,
    seed: int | str | None,
    *,
    llm: LLMSettings | None = None,
    emit: Callable[[Event], None] | None = None,
    session_id: str = "",
    script: list[str] | None = None,
) -> SimulatedUser:
    """`scripted`, `llm` (the LLM writes every message), `mixed` (the persona's steps, then the LLM) or
    `fixed` (the given script, whatever the agent says)."""
    if kind == "fixed":
        return FixedUser(script or [])
    if kind == "scripted":
        return ScriptedUser(persona, identity, seed=seed)
    if kind in ("llm", "mixed"):
        if llm is None:
            raise ValueError(f"a {kind} user needs LLM settings")
        return LLMUser(persona, identity, llm, mixed=kind == "mixed", emit=emit, session_id=session_id)
    raise ValueError(f"unknown user type {kind!r}")
