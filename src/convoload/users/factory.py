"""Make the simulated user for one conversation."""

from __future__ import annotations

from convoload.identity import Identity
from convoload.personas.model import Persona
from convoload.users.base import SimulatedUser
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


def build_user(kind: str, persona: Persona, identity: Identity, seed: int | str | None) -> SimulatedUser:
    if kind == "scripted":
        return ScriptedUser(persona, identity, seed=seed)
    raise ValueError(f"unknown user type {kind!r}")
