"""ScriptedUser: deterministic, offline, zero-cost simulated customer.

It sends the persona's scripted steps first, then reacts to what the agent
actually asked, using the persona's playbook (domain knowledge: which questions
an agent of that kind asks and how this persona answers them): the persona's
own `playbook`, else the default one it is given (the bundled system's).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from convoload.identity import Identity
from convoload.model import TurnRecord
from convoload.personas.model import Persona
from convoload.users.base import UserMessage
from convoload.users.playbooks import Playbook, playbook_for


class ScriptedUser:
    def __init__(
        self,
        persona: Persona,
        identity: Identity,
        seed: int | str | None = None,
        *,
        default_playbook: str | type[Playbook] | None = None,
    ) -> None:
        """ConfigError (the persona's file, field `playbook`) when neither names a known playbook."""
        self.persona = persona
        self.identity = identity
        self.stop_reason: str | None = None
        self._steps = list(persona.steps)
        self._playbook = playbook_for(persona, default_playbook)(persona, identity, random.Random(seed))

    def next_message(self, turns: Sequence[TurnRecord]) -> UserMessage | None:
        if self._steps:
            return UserMessage(self._steps.pop(0))
        last_reply = turns[-1].reply_text if turns else None
        text = self._playbook.opening() if last_reply is None else self._playbook.respond(last_reply)
        if text is None:
            self.stop_reason = self._playbook.stop_reason or "user_done"
            return None
        return UserMessage(text)
