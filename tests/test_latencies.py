"""Latencies: exact percentiles while a run is short, a histogram of constant size with a stated
error when it is long."""

import gc
import random
import tracemalloc

import pytest

from convoload.model.report import Distribution
from convoload.model.stats import EXACT_LIMIT, RELATIVE_ERROR, Latencies, distribution


def values(n: int, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return [rng.lognormvariate(4, 1.2) for _ in range(n)] + [0.0] * (n // 100)


def test_a_short_run_keeps_exact_percentiles():
    data = values(5000)
    latencies = Latencies(data)
    assert latencies.exact and latencies.distribution() == distribution(data)
    assert "relative_error" not in latencies.distribution()


def test_a_long_run_states_its_error_and_keeps_within_it():
    data = values(EXACT_LIMIT * 2)
    latencies = Latencies(data)
    approx, exact = latencies.distribution(), distribution(data)
    assert not latencies.exact and approx["relative_error"] == RELATIVE_ERROR
    assert {k: approx[k] for k in ("count", "min", "max")} == {k: exact[k] for k in ("count", "min", "max")}
    assert approx["mean"] == pytest.approx(exact["mean"], abs=0.001)
    for p in ("p50", "p90", "p95", "p99"):
        assert abs(approx[p] - exact[p]) <= RELATIVE_ERROR * exact[p] + 0.001, p
    # The report reads and writes the statement back as it is.
    assert Distribution.model_validate(approx).to_document() == approx


def test_the_order_values_come_in_and_how_they_are_split_do_not_matter():
    data = values(EXACT_LIMIT + 5000, seed=3)
    whole = Latencies(data).distribution()
    shuffled = data[:]
    random.Random(9).shuffle(shuffled)
    assert Latencies(shuffled).distribution() == whole
    parts = [Latencies(data[:10]), Latencies(data[10:EXACT_LIMIT]), Latencies(data[EXACT_LIMIT:])]
    assert parts[0].merged(parts[1:]).distribution() == whole
    small = Latencies(data[:100]).merged([Latencies(data[100:200])])
    assert small.exact and small.distribution() == distribution(data[:200])


def test_memory_stays_flat_past_the_exact_limit():
    first = values(EXACT_LIMIT + 1)
    latencies = Latencies(first)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        latencies.extend(values(400_000, seed=7))
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert latencies.count == len(first) + 404_000
    assert grown < 64 * 1024, grown  # 400,000 more values: a few new buckets at most, not 3.2 MB
