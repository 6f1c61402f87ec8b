"""What an LLM call returns, and how it fails."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from convoload.errors import ConvoloadError


@dataclass(frozen=True, slots=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]
    id: str | None = None


@dataclass(frozen=True, slots=True)
class Fallback:
    """The chain moved on from one provider to the next."""

    from_provider: str
    to_provider: str
    reason: str


@dataclass(slots=True)
class TokenUsage:
    prompt: int = 0
    completion: int = 0  # includes reasoning tokens, as OpenAI-compatible APIs report them
    cached: int = 0  # part of `prompt` served from the provider's prompt cache
    reasoning: int = 0  # part of `completion` spent thinking

    @property
    def total(self) -> int:
        return self.prompt + self.completion


@dataclass(slots=True)
class LLMResponse:
    text: str
    provider: str
    model: str
    usage: TokenUsage
    cost_usd: float
    latency_ms: float
    tool_calls: list[ToolCall] = field(default_factory=list)
    cost_source: str = "table"  # "provider" (reported by it), "table" (our price table) or "free"
    from_cache: bool = False
    attempts: int = 1


class FailureKind(StrEnum):
    RATE_LIMITED = "rate_limited"  # 429
    SERVER_ERROR = "server_error"  # 5xx
    TIMEOUT = "timeout"
    CONNECTION = "connection_error"
    TOOLS_UNSUPPORTED = "tools_unsupported"  # the model cannot take `tools`
    AUTH = "auth_error"  # 401/403: a key problem, retrying will not help
    BAD_REQUEST = "bad_request"  # other 4xx
    MALFORMED = "malformed_response"  # not JSON, or not a chat completion
    EMPTY = "empty_response"
    CIRCUIT_OPEN = "circuit_open"  # skipped: the provider kept failing recently


RETRYABLE = frozenset(
    {
        FailureKind.RATE_LIMITED,
        FailureKind.SERVER_ERROR,
        FailureKind.TIMEOUT,
        FailureKind.CONNECTION,
        FailureKind.MALFORMED,
        FailureKind.EMPTY,
    }
)


class ProviderError(ConvoloadError):
    """One provider failed one call. Messages never contain keys."""

    def __init__(
        self,
        kind: FailureKind,
        message: str,
        *,
        provider: str = "",
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        self.kind = kind
        self.provider = provider
        self.status = status
        self.retry_after_s = retry_after_s
        super().__init__(f"{provider}: {kind.value}: {message}" if provider else f"{kind.value}: {message}")


class LLMUnavailable(ConvoloadError):
    """Every provider in the chain failed; `errors` says how, in order."""

    def __init__(self, errors: list[ProviderError], fallbacks: list[Fallback] | None = None) -> None:
        self.errors = errors
        self.fallbacks = fallbacks or []  # the moves to the next provider made before giving up
        detail = "; ".join(str(e) for e in errors) or "no provider configured"
        super().__init__(f"all LLM providers failed: {detail}")

    @property
    def kind(self) -> FailureKind | None:
        return self.errors[-1].kind if self.errors else None
