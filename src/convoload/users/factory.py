"""Make the simulated user for one conversation."""

from __future__ import annotations

from collections.abc import Callable

from convoload.events import Event
from convoload.identity import Identity
from convoload.personas.model import Persona
from convoload.users.base import SimulatedUser
from convoload.users.fixed import FixedUser
from convoload.users.llm import LLMSettings, LLMUser
from convoload.users.playbooks import PLAYBOOKS
from convoload.users.scripted import ScriptedUser


def check_personas(personas: list[Persona]) -> list[str]:
    """Problems that would stop these personas from being played, as 'source: field: message'."""
    problems = []
    for persona in personas:
        if persona.playbook not in PLAYBOOKS:
            problems.append(
                f"{persona.source or persona.name}: playbook: unknown playbook {persona.playbook!r} "
                f"(known: {', '.join(sorted(PLAYBOOKS))})"
            )
    return problems


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
