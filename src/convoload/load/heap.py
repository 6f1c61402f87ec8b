"""The garbage collector during a load run: what exists before it is frozen, full passes are rare.

With thousands of conversations in flight a full collection walks every object and pauses every
conversation (150-250 ms at 2,000 in the benchmarks). The imports, configs and servers created
before the users start never become garbage during the run, so they are frozen out of the walk;
and a full pass waits for 100 middle-generation passes instead of 10, so it comes seldom. Garbage
in cycles is still found, by the younger passes or by the next full one.
"""

from __future__ import annotations

import gc
from types import TracebackType

FULL_GC_AFTER = 100  # middle-generation collections between full ones during a load run


class LoadHeap:
    """`with LoadHeap():` around a run, or enter()/leave() from Locust's test start and stop."""

    def __init__(self) -> None:
        self._saved: tuple[int, int, int] | None = None

    def enter(self) -> None:
        if self._saved is not None:
            return
        gc.collect()
        gc.freeze()
        self._saved = gc.get_threshold()
        gen0, gen1, full = self._saved
        gc.set_threshold(gen0, gen1, max(full, FULL_GC_AFTER))

    def leave(self) -> None:
        if self._saved is None:
            return
        gc.set_threshold(*self._saved)
        gc.unfreeze()
        self._saved = None

    def __enter__(self) -> LoadHeap:
        self.enter()
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _exc: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.leave()
