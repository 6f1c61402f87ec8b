"""The contract of a playbook: how a scripted customer of one domain answers an agent."""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from typing import ClassVar

from convoload.identity import Identity
from convoload.personas.model import Persona

MAX_NOT_UNDERSTOOD = 3  # a real customer gives up after a few replies that make no sense to them
MAX_SAME_QUESTION = 4  # ... or when asked the same thing over and over


class Playbook(ABC):
    """How a scripted customer of one domain reacts to an agent's messages (one instance per conversation).

    Implement two methods:

    - `opening()` — the customer's first message (sent after the persona's `steps`, if any);
    - `respond(reply)` — the answer to the agent's latest reply (every message of one turn joined), or
      None to end the conversation; set `stop_reason` first (e.g. with `stop("no_listing_found")`),
      it is reported as the conversation's stop reason (default `user_done`).

    Read what the customer wants from `self.persona.facts` and `self.persona.behaves(name)`, and the
    customer's synthetic data from `self.identity` (`full_name`, `email`, `phone`, `cpf`, ...). Helpers:
    `say(pt, en)` picks a phrasing in the persona's language (a list: one at random, reproducible from the
    conversation's seed through `self.rng`); `note_intent(intent)` tracks what the agent asked and returns
    False (with `stop_reason` set) when the agent keeps asking the same thing or makes no sense
    ("unknown") several times in a row — return None then. Keyword matching for the customer side is in
    `convoload.textutil` (`fold`, `Keywords`, `has_any`).

    `domain` names the conversations this playbook plays for hooks tied to a domain (`Hook.domains`).
    Register the class under the `convoload.playbooks` entry-point group, or name it in a persona as
    `playbook: module:Class`.
    """

    domain: ClassVar[str | None] = None

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
        """The Portuguese or English phrasing, by the persona's language; from a list, one at random."""
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
        """End the conversation after this reply with `reason` (then return None from `respond`)."""
        self.stop_reason = reason
