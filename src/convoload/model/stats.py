"""Exact percentiles: the one definition every report, store query and chart uses.

Computed from every recorded value (no bucketing), with linear interpolation between closest ranks.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

PERCENTILES = (50, 90, 95, 99)


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


def distribution(values: Iterable[float | None]) -> dict[str, float | int | None]:
    """count, min, mean, p50/p90/p95/p99 and max (rounded to 3 decimals); only `count` when empty."""
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
