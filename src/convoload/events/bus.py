"""Conversation events and the bus that carries them.

Handlers run synchronously in the emitting greenlet, in subscription order. A
handler that raises is logged and skipped: an observer must never break the
conversation it observes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from convoload.llm.types import LLMResponse
    from convoload.model import ConversationRecord, TurnError, TurnRecord
    from convoload.model.judgement import Judgement

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Event:
    session_id: str
    persona: str


@dataclass(frozen=True, slots=True)
class ConversationStarted(Event):
    user_id: int
    identity: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TurnSent(Event):
    iteration: int
    text: str


@dataclass(frozen=True, slots=True)
class ReplyReceived(Event):
    turn: TurnRecord
    raw: Any = None  # the target's reply document(s), for observers that read agent-side details


@dataclass(frozen=True, slots=True)
class AgentChanged(Event):
    iteration: int
    previous: str | None
    current: str | None


@dataclass(frozen=True, slots=True)
class TurnFailed(Event):
    iteration: int
    error: TurnError
    turn: TurnRecord


@dataclass(frozen=True, slots=True)
class LLMCalled(Event):
    """An LLM answered (or the replay cache did): the simulated user's, or with `role` "judge" the
    conversation judge's, whose tokens and dollars are judge cost, never the user's."""

    provider: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cost_usd: float
    latency_ms: float
    attempts: int
    from_cache: bool = False
    role: str = "user"  # whose call: "user" (the simulated customer) or "judge"

    @classmethod
    def of(cls, response: LLMResponse, *, role: str = "user", **ids: Any) -> LLMCalled:
        """The event of a chain's (or the replay cache's) answer; a replayed one cost nothing."""
        u = response.usage
        return cls(
            **ids,
            provider=response.provider,
            model=response.model,
            prompt_tokens=u.prompt,
            completion_tokens=u.completion,
            cached_tokens=u.cached,
            cost_usd=0.0 if response.from_cache else response.cost_usd,
            latency_ms=response.latency_ms,
            attempts=0 if response.from_cache else response.attempts,
            from_cache=response.from_cache,
            role=role,
        )


@dataclass(frozen=True, slots=True)
class LLMFallback(Event):
    """The provider chain moved on from one provider to the next."""

    from_provider: str
    to_provider: str
    reason: str
    role: str = "user"  # whose chain: "user" or "judge"


@dataclass(frozen=True, slots=True)
class LLMError(Event):
    """A provider of the simulated user's (or, with `role` "judge", the judge's) chain failed a call."""

    provider: str  # provider/model
    kind: str  # rate_limited, server_error, timeout, malformed_response, ...
    role: str = "user"  # whose chain: "user" or "judge"


@dataclass(frozen=True, slots=True)
class ConversationFinished(Event):
    record: ConversationRecord


@dataclass(frozen=True, slots=True)
class Judged(Event):
    """The conversation judge scored a finished conversation (or failed to: `judgement.status`).

    judgement: the verdict (scores and reasons per criterion, pass, the judge's tokens and cost);
        hooks' `on_judgement` findings are appended to its `findings` before it is written.
    """

    judgement: Judgement


E = TypeVar("E", bound=Event)
Handler = Callable[[Any], None]


class EventBus:
    """Publish/subscribe by event type; subscribing to `Event` receives everything."""

    def __init__(self) -> None:
        self._handlers: dict[type[Event], list[Handler]] = {}
        # Per emitted type, its handlers and those of its bases, in order: emit runs several times
        # a turn, subscriptions change a few times a run.
        self._dispatch: dict[type[Event], tuple[Handler, ...]] = {}

    def subscribe(self, event_type: type[E], handler: Callable[[E], None]) -> Callable[[], None]:
        """Register `handler`; returns a function that unsubscribes it."""
        self._handlers.setdefault(event_type, []).append(handler)
        self._dispatch.clear()

        def unsubscribe() -> None:
            handlers = self._handlers.get(event_type, [])
            if handler in handlers:
                handlers.remove(handler)
                self._dispatch.clear()

        return unsubscribe

    def wants(self, event_type: type[Event]) -> bool:
        """Whether anyone listens to events of this type (to skip building ones nobody reads)."""
        return bool(self._handlers_of(event_type))

    def emit(self, event: Event) -> None:
        for handler in self._handlers_of(type(event)):
            try:
                handler(event)
            except Exception:
                log.exception("event handler %r failed on %s", handler, type(event).__name__)

    def _handlers_of(self, event_type: type[Event]) -> tuple[Handler, ...]:
        found = self._dispatch.get(event_type)
        if found is None:
            handlers: list[Handler] = []
            for base in event_type.__mro__:
                handlers.extend(self._handlers.get(base, ()))
                if base is Event:
                    break
            found = self._dispatch[event_type] = tuple(handlers)
        return found
