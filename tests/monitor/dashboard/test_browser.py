"""The page in headless Chromium: the DOM its script built from the API shows what the store holds."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from convoload.monitor.dashboard import DashboardSettings
from convoload.monitor.dashboard.launcher import DashboardServer
from tests.browser import Element, dump_dom, needs_chromium, parse_dom
from tests.monitor.dashboard.helpers import TOKEN, settings_for
from tests.monitor.dashboard.sample import MINUTES, Seeded, alerts_resolved

pytestmark = [pytest.mark.browser, pytest.mark.e2e, needs_chromium]

CHARTS = ["success-ratio", "error-ratio", "response-time", "concurrent-users"]


def _load(url: str, tmp_path: Path) -> Element:
    dom = parse_dom(dump_dom(url, tmp_path))
    main = dom.find("main", id="dashboard")
    assert int(main.attrs["data-renders"]) >= 1, "the page's script never rendered"
    return dom


@pytest.fixture(scope="module")
def shown(seeded: Seeded, tmp_path_factory: pytest.TempPathFactory) -> Element:
    """The seeded dashboard as Chromium drew it: one page load shared by the read-only checks."""
    with DashboardServer(settings_for(seeded)) as server:
        return _load(server.url + "/", tmp_path_factory.mktemp("browser"))


def test_page_shows_the_critical_state(shown: Element) -> None:
    dom = shown

    overall = dom.find(id="overall")
    assert (overall.attrs["data-status"], overall.text()) == ("critical", "critical")
    assert dom.find(id="freshness").attrs["data-stale"] == "false"
    assert dom.find(id="freshness").attrs["data-connection"] == "ok"

    alerts = {e.attrs["data-alert"]: e for e in dom.find_all("tr", data_alert=True)}
    assert set(alerts) == {"AgentErrorRateHigh", "ResponseTimeP95High", "SuccessRatioLow"}
    critical = alerts["AgentErrorRateHigh"]
    assert (critical.attrs["data-severity"], critical.attrs["data-state"]) == ("critical", "firing")
    assert "0.0625 vs 0.05" in critical.text()
    assert alerts["ResponseTimeP95High"].attrs["data-state"] == "pending"
    assert alerts["SuccessRatioLow"].attrs["data-inhibited"] == "true"
    # The summary's markup arrived as text: no element was made from it, and the title is intact.
    assert "<img src=x" in critical.text()
    assert dom.find_all("img") == []
    assert dom.find("title").text() == "CRITICAL · convoload monitor"

    metrics = {e.attrs["data-metric"]: e for e in dom.find_all(data_metric=True)}
    assert metrics["success_ratio"].attrs["data-value"] == "0.875"
    assert "87.5 %" in metrics["success_ratio"].text()
    assert "3.50 s" in metrics["response_time_p95"].text()
    assert "$0.7500" in metrics["cost"].text()

    components = {e.attrs["data-component"]: e.attrs["data-up"] for e in dom.find_all(data_component=True)}
    assert components == {"agent": "true", "catalog": "true", "llm:openrouter": "false"}

    channels = {e.attrs["data-channel"]: e.attrs["data-ok"] for e in dom.find_all(data_channel=True)}
    assert channels == {"email": "true", "slack": "false"}


def test_page_draws_trend_charts(shown: Element) -> None:
    charts = {e.attrs["data-chart"]: e for e in shown.find_all("svg", data_chart=True)}
    assert list(charts) == CHARTS
    for name in CHARTS:
        lines = charts[name].find_all("polyline")
        assert lines, f"{name} has no line"
        for line in lines:
            # One point per sample of the last 24 h (the 26 h old ones are outside the window).
            assert len(line.attrs["points"].split()) == MINUTES, name
    assert [p.attrs["data-series"] for p in charts["response-time"].find_all("polyline")] == [
        "convoload_response_time_mean_seconds",
        "convoload_response_time_p95_seconds",
    ]
    # The success ratio rises towards now (the sample drifts): its line climbs, y shrinking in SVG.
    ys = [float(p.split(",")[1]) for p in charts["success-ratio"].find("polyline").attrs["points"].split()]
    assert ys[0] > ys[-1]


def test_page_links_runs_to_their_reports(shown: Element, seeded: Seeded) -> None:
    data, dom = seeded, shown
    links = {e.attrs["data-report"]: e.attrs["href"] for e in dom.find_all("a", data_report=True)}
    with_report = ["collect", "relative", "outside", "dotdot", "symlink", "missing"]
    assert links == {str(data.jobs[r]): f"/reports/{data.jobs[r]}" for r in with_report}
    rows = {e.attrs["data-job"]: e for e in dom.find_all("tr", data_job=True)}
    assert rows[str(data.jobs["failed"])].attrs["data-job-status"] == "failed"
    assert "target refused connections" in rows[str(data.jobs["failed"])].text()
    assert rows[str(data.jobs["running"])].attrs["data-job-status"] == "running"


def test_page_refreshes_itself_and_follows_the_store(
    fresh_store: Seeded, start_dashboard, tmp_path: Path
) -> None:
    data = fresh_store
    # A short refresh: within the browser's 15 s virtual-time budget the page polls several times.
    server = start_dashboard(settings_for(data, refresh_s=2.0))
    dom = _load(server.url + "/", tmp_path)
    # Polling, not reloading: one page load rendered several times within the virtual 15 s.
    assert int(dom.find("main", id="dashboard").attrs["data-renders"]) >= 3

    data.store.save_alerts(alerts_resolved(datetime.now(UTC)))
    dom = _load(server.url + "/", tmp_path)
    assert dom.find(id="overall").attrs["data-status"] == "healthy"
    alerts = dom.find_all("tr", data_alert=True)
    assert [(a.attrs["data-alert"], a.attrs["data-state"]) for a in alerts] == [
        ("ResponseTimeP95High", "pending")
    ]
    assert dom.find("title").text() == "convoload monitor"


def test_page_says_when_data_is_stale(fresh_store: Seeded, start_dashboard, tmp_path: Path) -> None:
    server = start_dashboard(settings_for(fresh_store, stale_after_s=1.0))
    dom = _load(server.url + "/", tmp_path)
    freshness = dom.find(id="freshness")
    assert freshness.attrs["data-stale"] == "true"
    assert "STALE" in freshness.text()


def test_page_with_a_token_in_the_address(fresh_store: Seeded, start_dashboard, tmp_path: Path) -> None:
    server = start_dashboard(settings_for(fresh_store, token=TOKEN))
    locked = parse_dom(dump_dom(server.url + "/", tmp_path))
    assert locked.find_all("main") == []  # 401: no page
    # ?token= once: the redirect sets the cookie, the page and its API calls ride on it.
    dom = _load(f"{server.url}/?token={TOKEN}", tmp_path)
    assert dom.find(id="overall").attrs["data-status"] == "critical"


def test_page_says_when_the_api_fails(tmp_path: Path, start_dashboard) -> None:
    # No store yet: /api/status answers 503, and the page says so instead of showing a status.
    url = f"sqlite:///{tmp_path / 'none' / 'results.sqlite'}"
    server = start_dashboard(DashboardSettings(store_url=url, runs_root=tmp_path))
    dom = _load(server.url + "/", tmp_path)
    freshness = dom.find(id="freshness")
    assert freshness.attrs["data-connection"] == "lost"
    assert "HTTP 503" in freshness.text()
    assert dom.find(id="overall").attrs["data-status"] == "unknown"
