"""FixedUser: sends a fixed list of messages, whatever the agent says (resilience scenarios)."""

from __future__ import annotations

from collections.abc import Sequence

from convoload.model import TurnRecord
from convoload.users.base import UserMessage


class FixedUser:
    def __init__(self, messages: Sequence[str]) -> None:
        self._messages = list(messages)
        self.stop_reason: str | None = None

    def next_message(self, turns: Sequence[TurnRecord]) -> UserMessage | None:
        if len(turns) >= len(self._messages):
            self.stop_reason = "script_done"
            return None
        return UserMessage(self._messages[len(turns)])
