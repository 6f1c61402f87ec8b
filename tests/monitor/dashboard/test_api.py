"""The dashboard's JSON API and report files, over HTTP from the subprocess."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from convoload.monitor.dashboard.launcher import DashboardServer
from convoload.monitor.dashboard.settings import DashboardSettings
from convoload.monitor.store import MonitorStore
from tests.monitor.dashboard.helpers import settings_for
from tests.monitor.dashboard.sample import (
    CRITICAL_SUMMARY,
    MINUTES,
    REPORT_MARKER,
    Seeded,
    samples_at,
)

pytestmark = pytest.mark.e2e


def _status(server: DashboardServer) -> dict:
    response = httpx.get(server.url + "/api/status")
    assert response.status_code == 200, response.text
    return response.json()


def test_health_is_ok(dashboard: DashboardServer) -> None:
    response = httpx.get(dashboard.health_url)
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_status_is_critical_and_fresh(dashboard: DashboardServer, seeded: Seeded) -> None:
    status = _status(dashboard)
    assert status["status"] == "critical"
    assert status["stale"] is False
    assert status["last_sample_at"] == seeded.newest_at
    assert status["alert_counts"] == {"firing": 2, "pending": 1}


def test_status_metrics_are_the_newest_values(dashboard: DashboardServer) -> None:
    metrics = {m["key"]: m["value"] for m in _status(dashboard)["metrics"]}
    assert metrics == {
        "success_ratio": 0.875,
        "response_time_mean": 1.25,
        "response_time_p95": 3.5,
        "error_ratio": 0.0625,
        "concurrent_users": 4,
        "fallback_ratio": 0.125,
        "conversations_window": 16,
        "tokens": 12345,
        "cost": 0.75,
    }


def test_status_alerts_critical_first(dashboard: DashboardServer) -> None:
    alerts = _status(dashboard)["alerts"]
    assert [(a["name"], a["severity"], a["state"], a["inhibited"]) for a in alerts] == [
        ("AgentErrorRateHigh", "critical", "firing", False),
        ("ResponseTimeP95High", "warning", "pending", False),
        ("SuccessRatioLow", "warning", "firing", True),
    ]
    critical = alerts[0]
    assert (critical["value"], critical["threshold"]) == (0.0625, 0.05)
    assert critical["since"] == critical["fired_at"]
    assert critical["annotations"]["summary"] == CRITICAL_SUMMARY
    assert alerts[1]["since"] == alerts[1]["active_since"]


def test_status_components_transitions_jobs_channels(dashboard: DashboardServer, seeded: Seeded) -> None:
    status = _status(dashboard)
    assert [(c["component"], c["up"], c["latency_s"]) for c in status["components"]] == [
        ("agent", True, 0.25),
        ("catalog", True, 0.03125),
        ("llm:openrouter", False, 5.0),
    ]
    assert [(t["from"], t["to"], t["count"]) for t in status["transitions"]] == [
        ("triage", "sales", 3),
        ("sales", "visits", 2),
    ]
    jobs = {j["id"]: j for j in status["jobs"]}
    assert status["jobs"][0]["id"] == seeded.jobs["running"]  # newest first
    assert jobs[seeded.jobs["collect"]]["report_url"] == f"/reports/{seeded.jobs['collect']}"
    assert jobs[seeded.jobs["failed"]]["report_url"] is None
    assert jobs[seeded.jobs["failed"]]["error"].startswith("stress run crashed")
    assert jobs[seeded.jobs["running"]]["status"] == "running"
    assert [(c["channel"], c["ok"], c["error"]) for c in status["channels"]] == [
        ("email", True, None),
        ("slack", False, "HTTP 503"),
    ]
    assert [(d["channel"], d["ok"]) for d in status["deliveries"]] == [
        ("slack", False),
        ("slack", True),
        ("email", True),
    ]


def test_series_of_the_last_24_hours(dashboard: DashboardServer) -> None:
    response = httpx.get(dashboard.url + "/api/series", params={"name": "convoload_success_ratio"})
    assert response.status_code == 200
    series = response.json()["series"]
    assert [s["labels"] for s in series] == [{}]
    values = [v for _, v in series[0]["points"]]
    expected = [
        next(s.value for s in samples_at(step) if s.name == "convoload_success_ratio")
        for step in range(MINUTES - 1, -1, -1)
    ]
    assert values == expected  # time order, the 26 h old samples left out
    stamps = [at for at, _ in series[0]["points"]]
    assert stamps == sorted(stamps)


def test_series_hours_and_labels(dashboard: DashboardServer) -> None:
    two_days = httpx.get(
        dashboard.url + "/api/series", params={"name": "convoload_success_ratio", "hours": 48}
    ).json()
    assert len(two_days["series"][0]["points"]) == MINUTES + 2
    up = httpx.get(dashboard.url + "/api/series", params={"name": "convoload_component_up"}).json()
    assert {s["labels"]["component"]: len(s["points"]) for s in up["series"]} == {
        "agent": MINUTES,
        "catalog": MINUTES,
        "llm:openrouter": MINUTES,
    }


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"name": "convoload_nope"}, 404),
        ({}, 422),
        ({"name": "convoload_success_ratio", "hours": 0}, 422),
        ({"name": "convoload_success_ratio", "hours": "day"}, 422),
    ],
)
def test_series_rejects_bad_queries(dashboard: DashboardServer, params: dict, code: int) -> None:
    assert httpx.get(dashboard.url + "/api/series", params=params).status_code == code


def test_report_of_a_job_is_served(dashboard: DashboardServer, seeded: Seeded) -> None:
    response = httpx.get(f"{dashboard.url}/reports/{seeded.jobs['collect']}")
    assert response.status_code == 200
    assert REPORT_MARKER in response.text
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == "sandbox allow-scripts"


def test_report_path_relative_to_runs_root(dashboard: DashboardServer, seeded: Seeded) -> None:
    response = httpx.get(f"{dashboard.url}/reports/{seeded.jobs['relative']}")
    assert (response.status_code, response.text) == (200, "<h1>daily</h1>")


@pytest.mark.parametrize("role", ["failed", "outside", "dotdot", "symlink", "missing", "running"])
def test_reports_never_escape_runs_root(dashboard: DashboardServer, seeded: Seeded, role: str) -> None:
    response = httpx.get(f"{dashboard.url}/reports/{seeded.jobs[role]}")
    assert response.status_code == 404
    assert "secret" not in response.text


@pytest.mark.parametrize(
    "path", ["/reports/999999", "/reports/..%2F..%2Foutside%2Fsecret.html", "/reports/-1"]
)
def test_unknown_reports(dashboard: DashboardServer, path: str) -> None:
    response = httpx.get(dashboard.url + path)
    assert response.status_code in (404, 422)
    assert "secret" not in response.text


def test_page_and_static_assets_are_local(dashboard: DashboardServer) -> None:
    page = httpx.get(dashboard.url + "/")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for asset in ("/static/dashboard.js", "/static/dashboard.css"):
        assert f'"{asset}"' in page.text
        assert httpx.get(dashboard.url + asset).status_code == 200
    assert "http://" not in page.text and "https://" not in page.text  # nothing from a CDN


def test_dashboard_starts_before_the_store_exists(tmp_path: Path, start_dashboard) -> None:
    url = f"sqlite:///{tmp_path / 'later' / 'results.sqlite'}"
    server = start_dashboard(DashboardSettings(store_url=url, runs_root=tmp_path))
    assert httpx.get(server.url + "/api/status").status_code == 503
    assert httpx.get(server.url + "/metrics").status_code == 503
    assert httpx.get(server.health_url).status_code == 200
    assert not (tmp_path / "later").exists()  # the dashboard only reads: it created nothing
    MonitorStore(url).close()  # the monitor starts
    status = _status(server)
    assert (status["status"], status["stale"], status["last_sample_at"]) == ("healthy", True, None)


def test_old_samples_are_stale(seeded: Seeded, start_dashboard) -> None:
    server = start_dashboard(settings_for(seeded, stale_after_s=1.0))  # the newest is 10 s old at least
    status = _status(server)
    assert status["stale"] is True
    assert status["last_sample_age_s"] >= 10
