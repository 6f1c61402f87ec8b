"""The provider chain: ordered providers, retries with backoff, Retry-After, fallback, circuit breakers."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from convoload.llm.client import ProviderClient
from convoload.llm.tools import Tool
from convoload.llm.types import RETRYABLE, FailureKind, Fallback, LLMResponse, LLMUnavailable, ProviderError


@dataclass
class RetryPolicy:
    retries: int = 2  # extra attempts on the same provider for retryable failures
    backoff_base_s: float = 0.5
    backoff_max_s: float = 8.0
    max_retry_after_s: float = 30.0  # a longer Retry-After moves on to the next provider instead

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Exponential backoff with full jitter: uniform in [0, min(max, base * 2**attempt)]."""
        return rng.uniform(0, min(self.backoff_max_s, self.backoff_base_s * 2**attempt))


@dataclass
class CircuitBreaker:
    """Skips a provider after `failures` failed calls in a row; lets one probe through after `cooldown_s`."""

    failures: int = 3
    cooldown_s: float = 30.0
    clock: Callable[[], float] = time.monotonic
    _consecutive: int = 0
    _opened_at: float | None = None
    _probing: bool = False

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        return "half_open" if self.clock() - self._opened_at >= self.cooldown_s else "open"

    def allow(self) -> bool:
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self._probing:
            self._probing = True  # exactly one probe at a time
            return True
        return False

    def success(self) -> None:
        self._consecutive, self._opened_at, self._probing = 0, None, False

    def failure(self) -> None:
        self._consecutive += 1
        if self._probing or self._consecutive >= self.failures:
            self._opened_at = self.clock()
        self._probing = False


@dataclass
class ChainResult:
    response: LLMResponse
    fallbacks: list[Fallback] = field(default_factory=list)
    errors: list[ProviderError] = field(default_factory=list)


class ProviderChain:
    def __init__(
        self,
        clients: list[ProviderClient],
        *,
        policy: RetryPolicy | None = None,
        breaker_failures: int = 3,
        breaker_cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if not clients:
            raise ValueError("a provider chain needs at least one provider")
        self.clients = clients
        self.policy = policy or RetryPolicy()
        self.breakers = {
            c.spec.label: CircuitBreaker(breaker_failures, breaker_cooldown_s, clock) for c in clients
        }
        self._sleep = sleep
        self._rng = rng or random.Random()

    @property
    def primary(self) -> str:
        return self.clients[0].spec.label

    def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[Tool] | None = None,
        params: dict[str, Any] | None = None,
    ) -> ChainResult:
        """The first provider that answers, trying them in order. Raises LLMUnavailable when none does."""
        errors: list[ProviderError] = []
        fallbacks: list[Fallback] = []
        for position, client in enumerate(self.clients):
            label = client.spec.label
            breaker = self.breakers[label]
            if breaker.allow():
                try:
                    response = self._call_with_retries(client, messages, tools, params)
                except ProviderError as exc:
                    breaker.failure()
                    errors.append(exc)
                else:
                    breaker.success()
                    return ChainResult(response, fallbacks, errors)
            else:
                errors.append(
                    ProviderError(FailureKind.CIRCUIT_OPEN, "skipped after repeated failures", provider=label)
                )
            if position + 1 < len(self.clients):
                fallbacks.append(
                    Fallback(label, self.clients[position + 1].spec.label, errors[-1].kind.value)
                )
        raise LLMUnavailable(errors, fallbacks)

    def _call_with_retries(
        self,
        client: ProviderClient,
        messages: list[dict[str, Any]],
        tools: list[Tool] | None,
        params: dict[str, Any] | None,
    ) -> LLMResponse:
        attempt = 0
        while True:
            try:
                response = client.complete(messages, tools=tools, params=params)
                response.attempts = attempt + 1
                return response
            except ProviderError as exc:
                if exc.kind not in RETRYABLE or attempt >= self.policy.retries:
                    raise
                delay = (
                    exc.retry_after_s
                    if exc.retry_after_s is not None
                    else self.policy.delay(attempt, self._rng)
                )
                if delay > self.policy.max_retry_after_s:
                    raise
                self._sleep(delay)
                attempt += 1

    def close(self) -> None:
        for client in self.clients:
            client.close()
