"""Locust's own table next to our exact numbers: finer buckets, and failures kept out of percentiles."""

import random

import locust.stats
from locust.stats import RequestStats

from convoload.config import Config
from convoload.load.bucketing import LOCUST_BUCKETS, fine_bucket, install_fine_buckets
from convoload.load.context import RunContext
from convoload.load.engine import run_load
from convoload.model import distribution, percentile


def test_fine_buckets_keep_three_significant_digits():
    rng = random.Random(1)
    for _ in range(20_000):
        value = rng.uniform(0, 900_000)
        key = fine_bucket(value)
        if value < 1000:
            assert abs(key - value) <= 0.5
        else:
            assert abs(key - value) / value <= 0.005
    assert fine_bucket(183_456.7) == 183_000 and fine_bucket(1049) == 1050 and fine_bucket(87.4) == 87
    assert LOCUST_BUCKETS(1049) == 1000  # Locust's own: 4.7 % off for a one-second turn


def test_locust_percentiles_of_minute_long_conversations_stay_within_half_a_percent():
    rng = random.Random(2)
    values = sorted(rng.uniform(60_000, 240_000) for _ in range(2000))
    install_fine_buckets()
    stats = RequestStats(use_response_times_cache=False)
    for value in values:
        stats.log_request("CONVERSATION", "Ana", value, 10)
    entry = stats.get("Ana", "CONVERSATION")
    for p in (0.5, 0.9, 0.95, 0.99):
        exact = percentile(values, p * 100)
        assert abs(entry.get_response_time_percentile(p) - exact) / exact < 0.006
    assert locust.stats.bucket_response_time is fine_bucket


def flaky_agent(text, session, iteration):
    """Fails every third conversation's second turn; the ticket agent answers otherwise."""
    from convoload_demo.tickets.inprocess import reply

    if iteration == 2 and session.user_id % 3 == 0:
        raise RuntimeError("agent crashed")
    return reply(text, session, iteration)


def test_failed_turns_count_in_locust_but_not_in_its_latencies(tmp_path):
    config = Config.model_validate(
        {
            "run": {"seed": 4, "runs_dir": str(tmp_path / "runs"), "persona_assignment": "round_robin"},
            "target": {"type": "python", "function": "tests.distributed.test_bucketing:flaky_agent"},
        }
    )
    context = RunContext(config)
    try:
        result = run_load(context, 6, 3)
        document = context.aggregate()
    finally:
        context.close()
    message = document["requests"]["MESSAGE"]["all"]
    entries = [e for e in result.stats.entries.values() if e.method == "MESSAGE"]
    assert sum(e.num_failures for e in entries) == message["failures"] == 2
    assert sum(e.num_requests - e.num_none_requests for e in entries) == message["count"]
    # Locust's min and max are exact values: with failures kept out, they are ours.
    assert round(min(e.min_response_time for e in entries), 3) == message["min"]
    assert round(max(e.max_response_time for e in entries), 3) == message["max"]
    conversation = [e for e in result.stats.entries.values() if e.method == "CONVERSATION"]
    assert (
        sum(e.num_failures for e in conversation) == document["requests"]["CONVERSATION"]["all"]["failures"]
    )
    assert distribution([]) == {"count": 0}
