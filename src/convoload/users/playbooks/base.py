"""What every playbook provides, plus the bookkeeping they share."""

from __future__ import annotations

import random
from abc import ABC, abstractmethod

from convoload.identity import Identity
from convoload.personas.model import Persona

MAX_NOT_UNDERSTOOD = 3  # a real customer gives up after a few replies that make no sense to them
MAX_SAME_QUESTION = 4  # ... or when asked the same thing over and over


class Playbook(ABC):
    def __init__(self, persona: Persona, identity: Identity, rng: random.Random) -> None:
        self.persona = persona
        self.identity = identity
        self.rng = rng
        self.english = persona.language == "en"
        self.stop_reason: str | None = None
        self._not_understood = 0
        self._last_intent: str | None = None
        self._same_intent = 0

    @abstractmethod
    def opening(self) -> str:
        """The first message when the persona has no scripted steps."""

    @abstractmethod
    def respond(self, reply: str) -> str | None:
        """The answer to the agent's latest reply, or None to stop (set `stop_reason`)."""

    def say(self, pt: list[str] | str, en: list[str] | str) -> str:
        options = en if self.english else pt
        return options if isinstance(options, str) else self.rng.choice(options)

    def note_intent(self, intent: str) -> bool:
        """Track repeated questions; False when the agent is stuck asking the same thing."""
        if intent == "unknown":
            self._not_understood += 1
            if self._not_understood >= MAX_NOT_UNDERSTOOD:
                self.stop_reason = "agent_not_understood"
                return False
        else:
            self._not_understood = 0
        self._same_intent = self._same_intent + 1 if intent == self._last_intent else 1
        self._last_intent = intent
        if self._same_intent > MAX_SAME_QUESTION:
            self.stop_reason = f"agent_loop:{intent}"
            return False
        return True

    def stop(self, reason: str) -> None:
        self.stop_reason = reason
