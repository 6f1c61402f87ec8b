"""The simulated-user interface. Scripted and LLM-driven users both implement it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from convoload.conversation.records import TurnRecord, Usage


@dataclass(slots=True)
class UserMessage:
    """The next thing the user says, and what producing it cost (zero for scripted users)."""

    text: str
    usage: Usage = field(default_factory=Usage)


class SimulatedUser(Protocol):
    """One simulated customer in one conversation (stateful across turns).

    `next_message` gets every turn so far (the agent's replies included) and
    returns the next message, or None to stop; `stop_reason` then says why.
    """

    stop_reason: str | None

    def next_message(self, turns: Sequence[TurnRecord]) -> UserMessage | None: ...
