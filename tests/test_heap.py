"""The collector during a load run: the heap before it frozen, full passes rare; all undone after."""

import gc

from convoload.load.heap import FULL_GC_AFTER, LoadHeap


def test_a_load_run_freezes_the_heap_and_spaces_full_collections_then_restores_both():
    before = gc.get_threshold()
    heap = LoadHeap()
    with heap:
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (before[0], before[1], max(before[2], FULL_GC_AFTER))
        heap.enter()  # Locust may fire test_start again: nothing changes twice
        assert gc.get_threshold()[2] == max(before[2], FULL_GC_AFTER)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    heap.leave()  # and a second stop is harmless
    assert gc.get_threshold() == before
