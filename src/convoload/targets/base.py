"""The connector interface shared by http, webhook and python targets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from convoload.envsecrets import redact, redact_value
from convoload.errors import ConvoloadError
from convoload.identity import Identity
from convoload.model import ErrorKind
from convoload.targets.callback_tokens import redact_callback_tokens


@dataclass(frozen=True, slots=True)
class Session:
    """Who is talking: used for correlation and for body-template placeholders."""

    session_id: str
    user_id: int
    persona: str
    identity: Identity


@dataclass(slots=True)
class TargetReply:
    """The agent's complete reply to one message."""

    text: str
    messages: list[str]
    agent: str | None = None
    latency_ms: float = 0.0  # send -> complete reply
    ack_ms: float | None = None  # send -> acknowledgement (webhook)
    wake_ms: float | None = None  # callback parsed -> waiting user resumed (webhook)
    cost_usd: float | None = None  # what the agent reports this turn cost it (its own LLM calls)
    raw: Any = field(default=None, repr=False)


def redact_reply(reply: TargetReply) -> TargetReply:
    """The reply with every known secret out of its texts and raw documents (changed in place).

    Where the target's data enters the records: what an agent echoes back (the Authorization
    header it got, say) never reaches a hook, a journal, a report or the store.
    """
    parts = (reply.text, reply.agent, reply.raw)
    clean = redact_value(parts)  # one search for all: the same tuple back when none holds a secret
    if clean is not parts:
        reply.text, reply.agent, reply.raw = clean
        reply.messages = redact_value(reply.messages)  # the text joins them: they hold a secret too
    return reply


class TargetError(ConvoloadError):
    """A classified failure of one turn. Messages are redacted: no secret, no callback token ever leaves
    (an agent's error answer may quote the request, its callback URL included)."""

    def __init__(
        self, kind: ErrorKind, message: str, status_code: int | None = None, ack_ms: float | None = None
    ) -> None:
        self.kind = kind
        self.message = redact_callback_tokens(redact(message))
        self.status_code = status_code
        self.ack_ms = ack_ms
        super().__init__(f"{kind.value}: {self.message}")


class Target(Protocol):
    """Send one user message and return the agent's complete reply, or raise TargetError."""

    kind: str

    def send(self, session: Session, text: str, iteration: int) -> TargetReply: ...

    def finish(self, session: Session) -> None:
        """The conversation is over: free what was held for it (e.g. its connection)."""
        ...

    def close(self) -> None: ...

    def stats(self) -> dict[str, int]:
        """Connector-level counters for the run report (e.g. rejected callbacks)."""
        ...
