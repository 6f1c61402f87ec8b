"""`/metrics` scraped over HTTP from the dashboard subprocess: what the store holds, typed by the catalog."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample as PromSample

from convoload.monitor.catalog import CATALOG
from convoload.monitor.dashboard.exposition import EXTRA_METRICS
from convoload.monitor.dashboard.launcher import DashboardServer
from convoload.monitor.dashboard.status import parse_ts
from convoload.monitor.store import Sample
from tests.monitor.dashboard.helpers import settings_for
from tests.monitor.dashboard.sample import LATEST, Seeded

pytestmark = pytest.mark.e2e


def _scrape(server: DashboardServer) -> tuple[httpx.Response, dict[str, tuple[str, list[PromSample]]]]:
    response = httpx.get(server.url + "/metrics")
    assert response.status_code == 200, response.text
    families = {f.name: (f.type, list(f.samples)) for f in text_string_to_metric_families(response.text)}
    return response, families


def _values(samples: list[PromSample], name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {tuple(sorted(s.labels.items())): s.value for s in samples if s.name == name}


def test_content_type_is_prometheus_text(dashboard: DashboardServer) -> None:
    response, _ = _scrape(dashboard)
    assert response.headers["content-type"] == CONTENT_TYPE_LATEST
    assert CONTENT_TYPE_LATEST.startswith("text/plain; version=")


def test_every_latest_value_with_its_catalog_type_and_labels(dashboard: DashboardServer) -> None:
    _, families = _scrape(dashboard)
    expected: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for (name, labels), value in LATEST.items():
        expected.setdefault(name, {})[labels] = value
    for name, series in expected.items():
        info = CATALOG[name]
        # The parser names a counter family without its `_total`; the samples keep it.
        family = name.removesuffix("_total") if info.kind == "counter" else name
        assert family in families, f"{name} missing from /metrics"
        kind, samples = families[family]
        assert kind == info.kind, name
        assert _values(samples, name) == series, name
        for sample in samples:
            assert set(sample.labels) == set(info.labels), name


def test_only_catalog_and_documented_extra_metrics(dashboard: DashboardServer) -> None:
    _, families = _scrape(dashboard)
    known = {n.removesuffix("_total") for n in [*CATALOG, *EXTRA_METRICS]}
    assert set(families) <= known, set(families) - known
    assert {n.removesuffix("_total") for n in EXTRA_METRICS} <= set(families)


def test_alert_counts_by_severity_and_state(dashboard: DashboardServer) -> None:
    _, families = _scrape(dashboard)
    kind, samples = families["convoload_alerts"]
    assert kind == "gauge"
    assert _values(samples, "convoload_alerts") == {
        (("severity", "critical"), ("state", "firing")): 1,
        (("severity", "critical"), ("state", "pending")): 0,
        (("severity", "warning"), ("state", "firing")): 1,
        (("severity", "warning"), ("state", "pending")): 1,
    }
    _, active = families["convoload_alert_active"]
    assert {(s.labels["alertname"], s.labels["state"], s.labels["inhibited"]) for s in active} == {
        ("AgentErrorRateHigh", "firing", "false"),
        ("ResponseTimeP95High", "pending", "false"),
        ("SuccessRatioLow", "firing", "true"),
    }


def test_job_and_notification_counters(dashboard: DashboardServer, seeded: Seeded) -> None:
    _, families = _scrape(dashboard)
    kind, samples = families["convoload_monitor_jobs"]
    assert kind == "counter"
    assert _values(samples, "convoload_monitor_jobs_total") == {
        (("job", job), ("status", status)): count for (job, status), count in seeded.job_counts.items()
    }
    _, running = families["convoload_monitor_jobs_running"]
    assert _values(running, "convoload_monitor_jobs_running") == {(("job", "collect"),): 1}
    kind, samples = families["convoload_notifications"]
    assert kind == "counter"
    assert _values(samples, "convoload_notifications_total") == {
        (("channel", "email"), ("result", "ok")): 1,
        (("channel", "slack"), ("result", "ok")): 1,
        (("channel", "slack"), ("result", "failed")): 1,
    }


def test_last_sample_timestamp(dashboard: DashboardServer, seeded: Seeded) -> None:
    _, families = _scrape(dashboard)
    kind, samples = families["convoload_last_sample_timestamp_seconds"]
    assert kind == "gauge"
    assert [s.value for s in samples] == [parse_ts(seeded.newest_at).timestamp()]


def test_new_samples_show_at_the_next_scrape(fresh_store: Seeded, start_dashboard) -> None:
    server = start_dashboard(settings_for(fresh_store))
    fresh_store.store.add_samples(
        [Sample("convoload_concurrent_users", 9), Sample("convoload_component_up", 0, {"component": "agent"})]
    )
    _, families = _scrape(server)
    assert _values(families["convoload_concurrent_users"][1], "convoload_concurrent_users") == {(): 9}
    up = _values(families["convoload_component_up"][1], "convoload_component_up")
    assert up[(("component", "agent"),)] == 0
