"""The garbage collector during a load run: collections paced by a clock, not by allocation counts.

CPython starts a collection when allocations minus deallocations pass a threshold. In a load run a
turn's objects live as long as the agent takes to answer (seconds), so by the time they die they
sit in the oldest generation, and their deallocations cancel the new allocations: the young
generations are then collected seldom and hold tens of thousands of objects when they are (long
pauses). And CPython's rule for a full collection (a quarter of the old generation promoted since
the last) counts those promoted-then-dead objects, so full collections, the longest pauses of all,
keep coming while the heap stays the same size. Every pause lands on the turns in flight as latency
the agent did not cause (benchmarks/README.md has the figures, before and after this pacing).

During a run, then:
- what exists before the users start (modules, configs, personas, servers) is frozen out of every
  collection: it does not become garbage during the run;
- the young generations are collected every `young_every_s` (0.1 s): a pause is only what 0.1 s of
  turns leaves alive;
- when the heap (pymalloc's allocated blocks) has tripled since the last full collection, what
  survived the young pass is frozen too, at no cost, instead of collected: such growth is a run
  taking on its conversations in flight (10,000 of them cost a 200 ms full pass), which a
  collection could not free. Frozen objects are still freed by their reference counts; only
  cycles among them wait;
- a full collection runs when the heap has grown by half and `full_every_s` (5 min) have passed:
  it unfreezes what the run froze, collects everything and freezes the survivors (all live). So
  a run of minutes has no full pause at all, a soak run of hours one every few minutes at most
  and only while its heap keeps growing, and cycles frozen with the run's state are freed by it.

The collector is one per process, so is its pacing: runs that overlap in a process share it, and
the collector is handed back as it was when the last of them ends.
"""

from __future__ import annotations

import gc
import sys
import time
from types import TracebackType

import gevent

YOUNG_EVERY_S = 0.1
FULL_AT_GROWTH = 1.5
FULL_EVERY_S = 300.0
FREEZE_AT_GROWTH = 3.0


class CollectorPacer:
    """Runs the collections of this process while at least one run holds it."""

    def __init__(self, young_every_s: float = YOUNG_EVERY_S, full_every_s: float = FULL_EVERY_S) -> None:
        self.young_every_s = young_every_s
        self.full_every_s = full_every_s
        self.young_passes = 0
        self.full_passes = 0
        self.freezes = 0
        self._holders = 0
        self._greenlet: gevent.Greenlet | None = None
        self._was_enabled = True
        self._live_blocks = 1  # the heap after the last full collection
        self._last_full = 0.0

    @property
    def pacing(self) -> bool:
        return self._greenlet is not None

    def hold(self) -> None:
        self._holders += 1
        if self._holders > 1:
            return
        gc.collect()
        gc.freeze()
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._counted_full()
        self._greenlet = gevent.spawn(self._pace)

    def release(self) -> None:
        self._holders -= 1
        if self._holders > 0 or self._greenlet is None:
            return
        self._greenlet.kill(block=False)
        self._greenlet = None
        gc.unfreeze()
        if self._was_enabled:
            gc.enable()

    def step(self) -> None:
        """One paced pass: the young generations, then a freeze or a full collection when the heap
        has grown enough."""
        growth = sys.getallocatedblocks() / self._live_blocks
        due = time.monotonic() - self._last_full >= self.full_every_s
        if growth >= FULL_AT_GROWTH and due:
            gc.unfreeze()
            gc.collect()
            gc.freeze()
            self.full_passes += 1
            self._counted_full()
            return
        gc.collect(1)
        self.young_passes += 1
        if growth >= FREEZE_AT_GROWTH:
            gc.freeze()
            self.freezes += 1
            self._live_blocks = max(1, sys.getallocatedblocks())

    def _counted_full(self) -> None:
        self._live_blocks = max(1, sys.getallocatedblocks())
        self._last_full = time.monotonic()

    def _pace(self) -> None:
        while True:
            gevent.sleep(self.young_every_s)
            self.step()


PACER = CollectorPacer()


class LoadHeap:
    """`with LoadHeap():` around a run, or enter()/leave() from Locust's test start and stop: one hold
    on the process's pacer, taken once however often Locust fires test_start."""

    def __init__(self, pacer: CollectorPacer = PACER) -> None:
        self.pacer = pacer
        self._holding = False

    def enter(self) -> None:
        if not self._holding:
            self._holding = True
            self.pacer.hold()

    def leave(self) -> None:
        if self._holding:
            self._holding = False
            self.pacer.release()

    def __enter__(self) -> LoadHeap:
        self.enter()
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _exc: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.leave()
