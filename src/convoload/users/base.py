"""The simulated-user interface. Scripted and LLM-driven users both implement it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from convoload.errors import ConvoloadError
from convoload.model import ErrorKind, SimulatorFault, TurnRecord, Usage


@dataclass(slots=True)
class UserMessage:
    """The next thing the user says, and what producing it cost (zero for scripted users)."""

    text: str
    usage: Usage | None = None  # None: producing it cost nothing (scripted users)
    stop: bool = False  # the user ends the conversation (its usage still counts)


class SimulatedUser(Protocol):
    """One simulated customer in one conversation (stateful across turns).

    `next_message` gets every turn so far (the agent's replies included) and
    returns the next message, or None (or a message with `stop`) to end the
    conversation; `stop_reason` then says why.
    """

    stop_reason: str | None

    def next_message(self, turns: Sequence[TurnRecord]) -> UserMessage | None: ...


class UserFailure(ConvoloadError):
    """The simulated user could not produce a message; the conversation fails with `kind`.

    With `fault` the simulator broke the simulation (outcome simulator_error, not the agent's fault);
    `usage` is what the failed attempts cost, still counted."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        fault: SimulatorFault | None = None,
        usage: Usage | None = None,
    ) -> None:
        self.kind = kind
        self.message = message
        self.fault = fault
        self.usage = usage
        super().__init__(message)
