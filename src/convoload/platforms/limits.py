"""Optional platform limits: a bot that sends faster than the platform allows gets its throughput error."""

from __future__ import annotations

import time


class TokenBucket:
    """`rate` calls per second on average, bursts up to `burst` (one second's worth by default)."""

    __slots__ = ("_level", "_stamp", "burst", "rate")

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self._level = self.burst
        self._stamp = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self._level = min(self.burst, self._level + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._level >= 1.0:
            self._level -= 1.0
            return True
        return False
