"""The collector during a load run: the heap before it frozen, collections paced, all undone after."""

import gc
import weakref

import pytest
from gevent.event import Event

from convoload.load import heap as heap_module
from convoload.load.heap import PACER, CollectorPacer, LoadHeap


class Node:
    """An object that can sit in a reference cycle and be watched for collection."""

    def __init__(self) -> None:
        self.me = self


def old_garbage() -> weakref.ref:
    """A reference cycle promoted to the oldest generation, then dropped: only a full pass frees it."""
    node = Node()
    gc.collect(1)  # the survivors of a middle-generation pass are promoted to the oldest
    assert any(o is node for o in gc.get_objects(2))
    return weakref.ref(node)


def test_a_load_run_freezes_the_heap_and_paces_the_collector_then_restores_both():
    assert gc.isenabled()
    heap = LoadHeap()
    with heap:
        assert gc.get_freeze_count() > 0
        assert not gc.isenabled()  # no collection at an allocation count: only the pacer's
        assert PACER.pacing
        frozen = gc.get_freeze_count()
        heap.enter()  # Locust may fire test_start again: nothing changes twice
        assert gc.get_freeze_count() == frozen
    assert gc.isenabled() and gc.get_freeze_count() == 0 and not PACER.pacing
    heap.leave()  # and a second stop is harmless
    assert gc.isenabled() and not PACER.pacing


def test_overlapping_runs_share_the_pacing_and_the_last_one_out_restores_the_collector():
    first, second = LoadHeap(), LoadHeap()
    first.enter()
    second.enter()
    first.leave()  # the other run is still under way: still paced
    assert PACER.pacing and not gc.isenabled() and gc.get_freeze_count() > 0
    second.leave()
    assert not PACER.pacing and gc.isenabled() and gc.get_freeze_count() == 0


def test_a_disabled_collector_stays_disabled_after_the_run():
    gc.disable()
    try:
        with LoadHeap():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_pacer_collects_young_garbage_on_its_clock():
    pacer = CollectorPacer(young_every_s=0.001)
    stepped = Event()
    step = pacer.step

    def counted_step() -> None:
        step()
        stepped.set()

    pacer.step = counted_step  # type: ignore[method-assign]
    with LoadHeap(pacer):
        node = Node()
        ref = weakref.ref(node)
        del node
        assert ref() is not None  # automatic collection is off: the cycle waits for the pacer
        assert stepped.wait(timeout=10)
        assert ref() is None and pacer.young_passes >= 1 and pacer.full_passes == 0


def test_young_steps_leave_old_garbage_and_a_full_step_waits_for_growth_and_time(monkeypatch):
    pacer = CollectorPacer(full_every_s=3600)
    with LoadHeap(pacer):
        ref = old_garbage()
        pacer.step()
        assert ref() is not None and pacer.full_passes == 0  # no growth, not due: young only

        live = pacer._live_blocks
        # Grown by half, but the last full pass was just now: still young only.
        monkeypatch.setattr(heap_module.sys, "getallocatedblocks", lambda: live * 2)
        pacer.step()
        assert ref() is not None and pacer.full_passes == 0 and pacer.freezes == 0


def test_a_tripled_heap_is_frozen_not_collected_and_the_next_full_pass_frees_its_cycles(monkeypatch):
    pacer = CollectorPacer(full_every_s=3600)
    with LoadHeap(pacer):
        ref = old_garbage()
        frozen = gc.get_freeze_count()
        live = pacer._live_blocks
        monkeypatch.setattr(heap_module.sys, "getallocatedblocks", lambda: live * 3)
        pacer.step()
        # No full pass (its pause would land on every turn in flight): the grown heap is frozen.
        assert pacer.full_passes == 0 and pacer.freezes == 1
        assert gc.get_freeze_count() > frozen and ref() is not None
        assert pacer._live_blocks == live * 3  # growth is counted from here on

        pacer.step()  # no further growth: young only
        assert pacer.freezes == 1 and pacer.full_passes == 0

        # Grown by half again and due: the full pass unfreezes, frees the frozen cycle, refreezes.
        pacer.full_every_s = 0
        monkeypatch.setattr(heap_module.sys, "getallocatedblocks", lambda: live * 5)
        pacer.step()
        assert ref() is None and pacer.full_passes == 1
        assert gc.get_freeze_count() > 0  # the survivors, all live, are out of sight again


def test_a_frozen_object_is_still_freed_by_its_reference_count(monkeypatch):
    pacer = CollectorPacer(full_every_s=3600)
    with LoadHeap(pacer):
        plain = Node()
        plain.me = None  # no cycle
        ref = weakref.ref(plain)
        live = pacer._live_blocks
        monkeypatch.setattr(heap_module.sys, "getallocatedblocks", lambda: live * 3)
        pacer.step()
        assert pacer.freezes == 1
        del plain
        assert ref() is None


def test_a_full_step_comes_when_grown_by_half_and_due(monkeypatch):
    pacer = CollectorPacer(full_every_s=0)
    with LoadHeap(pacer):
        ref = old_garbage()
        live = pacer._live_blocks
        monkeypatch.setattr(heap_module.sys, "getallocatedblocks", lambda: int(live * 1.4))
        pacer.step()
        assert ref() is not None and pacer.full_passes == 0  # due, but not grown enough
        monkeypatch.setattr(heap_module.sys, "getallocatedblocks", lambda: live * 3 // 2 + 1)
        pacer.step()
        assert ref() is None and pacer.full_passes == 1


@pytest.fixture(autouse=True)
def _collector_restored():
    yield
    gc.enable()
    gc.unfreeze()
