"""Percentiles: the one definition every report, store query and chart uses.

Computed from every recorded value (no bucketing), with linear interpolation between closest ranks.
`Latencies` keeps them so for up to `EXACT_LIMIT` values (8 bytes each); past that it holds a
logarithmic histogram of constant size instead, whose percentiles are within `RELATIVE_ERROR` of the
exact ones, and the distribution says so (`relative_error`): a soak of hours stays in flat memory.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence

PERCENTILES = (50, 90, 95, 99)
EXACT_LIMIT = 65_536
RELATIVE_ERROR = 0.005
_GAMMA = (1 + RELATIVE_ERROR) / (1 - RELATIVE_ERROR)
_LOG_GAMMA = math.log(_GAMMA)


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """The `p`th percentile (0-100) of values already sorted; NaN when there are none."""
    if not sorted_values:
        return math.nan
    if len(sorted_values) == 1:
        return sorted_values[0]
    rank = (len(sorted_values) - 1) * p / 100
    low = math.floor(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


class Latencies:
    """Values (milliseconds, ≥ 0) to draw a distribution from: exact while there are few, then a
    histogram whose bucket i holds (γ^(i-1), γ^i], γ = (1+ε)/(1-ε): its middle is within ε of any
    value in it. Count, min, max and mean stay exact."""

    __slots__ = ("_buckets", "_count", "_exact", "_max", "_min", "_sum_ns", "_zeros")

    def __init__(self, values: Iterable[float] = ()) -> None:
        self._exact: array | None = array("d")
        # The histogram's part, used once the values are no longer kept:
        self._buckets: Counter[int] = Counter()
        self._zeros = 0
        self._count = 0
        self._sum_ns = 0  # an integer: the same sum whatever order the values came in
        self._min = math.inf
        self._max = -math.inf
        self.extend(values)

    @property
    def exact(self) -> bool:
        return self._exact is not None

    @property
    def count(self) -> int:
        return len(self._exact) if self._exact is not None else self._count

    def append(self, value: float) -> None:
        self.extend((value,))

    def extend(self, values: Iterable[float]) -> None:
        if self._exact is None:
            self._add_to_histogram(values)
            return
        self._exact.extend(values)  # in C: this is the hot path of every finished conversation
        if len(self._exact) > EXACT_LIMIT:
            kept, self._exact = self._exact, None
            self._add_to_histogram(kept)

    def __iter__(self) -> Iterator[float]:  # the values, while kept
        if self._exact is None:
            raise TypeError("a histogram of latencies no longer has its values")
        return iter(self._exact)

    def merged(self, others: Iterable[Latencies]) -> Latencies:
        """One set of latencies from this and `others` (exact while all are and few enough)."""
        out = Latencies()
        for part in (self, *others):
            if part._exact is not None:
                out.extend(part._exact)
                continue
            if out._exact is not None:
                kept, out._exact = out._exact, None
                out._add_to_histogram(kept)
            out._buckets.update(part._buckets)
            out._zeros += part._zeros
            out._count += part._count
            out._sum_ns += part._sum_ns
            out._min, out._max = min(out._min, part._min), max(out._max, part._max)
        return out

    def distribution(self) -> dict[str, float | int | None]:
        if self._exact is not None:
            return distribution(self._exact)
        if not self._count:
            return {"count": 0}
        out: dict[str, float | int | None] = {
            "count": self._count,
            "min": round(self._min, 3),
            "mean": round(self._sum_ns / 1e6 / self._count, 3),
        }
        for p in PERCENTILES:
            out[f"p{p}"] = round(self._percentile(p), 3)
        out["max"] = round(self._max, 3)
        out["relative_error"] = RELATIVE_ERROR
        return out

    def _add_to_histogram(self, values: Iterable[float]) -> None:
        buckets = self._buckets
        for value in values:
            self._count += 1
            self._sum_ns += round(value * 1e6)
            self._min = min(self._min, value)
            self._max = max(self._max, value)
            if value <= 0:
                self._zeros += 1
            else:
                buckets[math.ceil(math.log(value) / _LOG_GAMMA)] += 1

    def _percentile(self, p: float) -> float:
        # The value at the closest rank below, as for exact values: the middle of its bucket.
        rank = math.floor((self._count - 1) * p / 100)
        seen = self._zeros
        if rank < seen:
            return 0.0
        for index in sorted(self._buckets):
            seen += self._buckets[index]
            if rank < seen:
                middle = 2 * _GAMMA**index / (_GAMMA + 1)
                return min(max(middle, self._min), self._max)
        return self._max


def distribution(values: Iterable[float | None] | Latencies) -> dict[str, float | int | None]:
    """count, min, mean, p50/p90/p95/p99 and max (rounded to 3 decimals); only `count` when empty.
    From `Latencies` past their exact limit: within `relative_error`, which the result states."""
    if isinstance(values, Latencies):
        return values.distribution()
    data = sorted(v for v in values if v is not None)
    if not data:
        return {"count": 0}
    out: dict[str, float | int | None] = {
        "count": len(data),
        "min": round(data[0], 3),
        "mean": round(math.fsum(data) / len(data), 3),
    }
    for p in PERCENTILES:
        out[f"p{p}"] = round(percentile(data, p), 3)
    out["max"] = round(data[-1], 3)
    return out
