"""A real bound on the turns a demo server serves at once: the rest wait in a queue, first come first
served, so past the bound every turn's latency grows by the queue ahead of it (a known capacity that
`convoload capacity` must find).

The bound is a setting of each server (`max_concurrent_turns`), its `--max-concurrent-turns` flag,
or the environment variable below; unset, turns are not bounded. `AsyncTurnLimit` serves asyncio
handlers, `ThreadTurnLimit` the handlers FastAPI runs in its threadpool. Both count what they hold
(`snapshot`), for /health.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

ENV = "CONVOLOAD_DEMO_MAX_CONCURRENT_TURNS"


def limit_from_env() -> int | None:
    """The environment's bound (None when unset or empty); ValueError when it is not a whole number >= 1."""
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{ENV}={raw!r} is not a whole number") from None
    if value < 1:
        raise ValueError(f"{ENV} must be at least 1 (got {value})")
    return value


class _Counts:
    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.busy = 0
        self.peak = 0
        self.served = 0
        self.queued_total = 0  # turns that had to wait

    def snapshot(self, queued: int) -> dict[str, Any]:
        return {
            "limit": self.limit,
            "in_service": self.busy,
            "queued": queued,
            "peak": self.peak,
            "served": self.served,
            "waited": self.queued_total,
        }

    def enter(self) -> None:
        self.busy += 1
        self.peak = max(self.peak, self.busy)


class AsyncTurnLimit(_Counts):
    """At most `limit` turns at once in one event loop; the others wait, FIFO."""

    def __init__(self, limit: int | None) -> None:
        super().__init__(limit)
        self._waiters: deque[asyncio.Future[None]] = deque()

    def snapshot(self) -> dict[str, Any]:  # type: ignore[override]
        return super().snapshot(sum(1 for w in self._waiters if not w.done()))

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        if self.limit is not None and (self.busy >= self.limit or self._waiters):
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            self.queued_total += 1
            try:
                await waiter  # the turn that leaves hands its place over: `busy` already counts this one
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._leave()  # handed a place but gone (client disconnected): pass it on
                raise
            self.peak = max(self.peak, self.busy)
        else:
            self.enter()
        try:
            yield
        finally:
            self.served += 1
            self._leave()

    def _leave(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.busy -= 1


class ThreadTurnLimit(_Counts):
    """At most `limit` turns at once across threads; the others wait, FIFO."""

    def __init__(self, limit: int | None) -> None:
        super().__init__(limit)
        self._lock = threading.Lock()
        self._waiters: deque[threading.Event] = deque()

    def snapshot(self) -> dict[str, Any]:  # type: ignore[override]
        with self._lock:
            return super().snapshot(len(self._waiters))

    @contextmanager
    def turn(self) -> Iterator[None]:
        waiter: threading.Event | None = None
        with self._lock:
            if self.limit is not None and (self.busy >= self.limit or self._waiters):
                waiter = threading.Event()
                self._waiters.append(waiter)
                self.queued_total += 1
            else:
                self.enter()
        if waiter is not None:
            waiter.wait()  # handed a place by the turn that left
        try:
            yield
        finally:
            with self._lock:
                self.served += 1
                if self._waiters:
                    self._waiters.popleft().set()
                else:
                    self.busy -= 1
