"""A small synchronous event bus: later features subscribe instead of being wired in."""

from convoload.events.bus import (
    AgentChanged,
    ConversationFinished,
    ConversationStarted,
    Event,
    EventBus,
    Judged,
    LLMCalled,
    LLMError,
    LLMFallback,
    ReplyReceived,
    TurnFailed,
    TurnSent,
)

__all__ = [
    "AgentChanged",
    "ConversationFinished",
    "ConversationStarted",
    "Event",
    "EventBus",
    "Judged",
    "LLMCalled",
    "LLMError",
    "LLMFallback",
    "ReplyReceived",
    "TurnFailed",
    "TurnSent",
]
