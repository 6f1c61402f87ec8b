"""A metric the newest collection did not measure (no p95 in an empty window) is shown as stale, with
the time of its last value, never as current."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from convoload.monitor.store import Sample
from tests.browser import dump_dom, needs_chromium, parse_dom
from tests.monitor.dashboard.helpers import settings_for
from tests.monitor.dashboard.sample import Seeded

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

WINDOWED = {"success_ratio", "response_time_mean", "response_time_p95", "error_ratio", "fallback_ratio"}


def _empty_window(data: Seeded) -> str:
    """A collection whose window held no conversation: only the counts and totals are written."""
    return data.store.add_samples(
        [
            Sample("convoload_conversations_window", 0),
            Sample("convoload_concurrent_users", 0),
            Sample("convoload_tokens_total", 12345),
            Sample("convoload_cost_usd_total", 0.75),
        ]
    )


def test_the_api_marks_values_the_newest_collection_lacks_as_stale(
    fresh_store: Seeded, start_dashboard
) -> None:
    server = start_dashboard(settings_for(fresh_store))
    fresh = {m["key"]: m for m in httpx.get(server.url + "/api/status").json()["metrics"]}
    assert not any(m["stale"] for m in fresh.values())

    collected_at = _empty_window(fresh_store)
    status = httpx.get(server.url + "/api/status").json()
    cards = {m["key"]: m for m in status["metrics"]}
    assert {k for k, m in cards.items() if m["stale"]} == WINDOWED
    p95 = cards["response_time_p95"]
    assert (p95["value"], p95["at"]) == (3.5, fresh_store.newest_at)  # the last value, with its time
    assert p95["age_s"] >= 10  # the seeded samples are 10 s old
    assert (cards["conversations_window"]["value"], cards["conversations_window"]["at"]) == (0, collected_at)
    assert status["stale"] is False  # the monitor itself is collecting


@needs_chromium
def test_the_page_shows_a_stale_card_with_the_time_of_its_value(
    fresh_store: Seeded, start_dashboard, tmp_path: Path
) -> None:
    _empty_window(fresh_store)
    server = start_dashboard(settings_for(fresh_store))
    dom = parse_dom(dump_dom(server.url + "/", tmp_path))
    cards = {e.attrs["data-metric"]: e for e in dom.find_all(data_metric=True)}
    p95 = cards["response_time_p95"]
    assert p95.attrs["data-stale"] == "true"
    assert "3.50 s" in p95.text() and "stale: last value" in p95.text()
    assert p95.find("time").attrs["datetime"] == fresh_store.newest_at
    assert cards["conversations_window"].attrs["data-stale"] == "false"
    assert "stale" not in cards["conversations_window"].text()
