"""Locust's response-time histogram, made fine enough for conversations.

Locust keeps response times in a histogram whose keys are rounded to about two significant
digits (`locust.stats.bucket_response_time`: 3432 ms → 3400, 58760 ms → 59000), which is up to
5 % off for turns of seconds and conversations of minutes. Locust
documents that function as the one to replace for custom bucketing; we keep every value below a
second to the millisecond and three significant digits above (≤ 0.5 % off, at most 900 keys per
decade per request name, which keeps worker → master reports small).

Our own reports never use these buckets: they are computed from every value (report/aggregate).
This only keeps Locust's table, CSV and HTML report close to them.
"""

from __future__ import annotations

import math

import locust.stats

SIGNIFICANT_DIGITS = 3
LOCUST_BUCKETS = locust.stats.bucket_response_time  # Locust's own, for comparison


def fine_bucket(response_time: float) -> int:
    """The histogram key for a response time in ms: exact ms below 1 s, 3 significant digits above."""
    if response_time < 1000:
        return round(response_time)
    digits = math.floor(math.log10(response_time)) + 1
    return int(round(response_time, SIGNIFICANT_DIGITS - digits))


def install_fine_buckets() -> None:
    """Use `fine_bucket` for every StatsEntry of this process (idempotent)."""
    locust.stats.bucket_response_time = fine_bucket
