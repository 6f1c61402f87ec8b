"""The docs' screenshots, taken from real pages: the HTML report of a run of the bundled ticket agent, a
capacity run's chart against a known limit, and the monitor's dashboard over real collections.

Each test asserts the page drew what the picture is meant to show, then takes the PNG (tests/browser.py
`screenshot`). With CONVOLOAD_SCREENS=docs/assets/screens the PNGs replace the docs' pictures, so they show
the pages as the code draws them today (docs/contributing.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from convoload.model.capacity import CAPACITY_NAME, CapacityResult
from tests.browser import dump_dom, needs_chromium, parse_dom, screenshot
from tests.helpers import run_dirs, spawn, write

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.slow, needs_chromium]


def test_the_report_of_a_run(tmp_path: Path) -> None:
    ran = spawn(
        "run", "-n", "6", "-c", "3", "--seed", "7", "--runs-dir", str(tmp_path / "runs"), cwd=tmp_path
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    (run,) = run_dirs(tmp_path / "runs")
    page = (run / "report.html").as_uri()
    dom = parse_dom(dump_dom(page, tmp_path, budget_ms=2000))
    assert dom.find_all("svg"), "the report drew no chart"
    assert "Kataryna" in dom.find("body").text() or "Talliz" in dom.find("body").text()
    screenshot(page, tmp_path, "report", size=(1280, 1000))


def test_the_capacity_chart(tmp_path: Path) -> None:
    """The bundled ticket agent serving 4 turns at once: p95 doubles past 4 users, the knee is marked."""
    config = write(
        tmp_path / "capacity.yaml",
        f"""
run: {{seed: 3, runs_dir: {tmp_path / "runs"}}}
target:
  type: demo
  demo: {{agent: tickets, reply_delay_s: 0.25, jitter_s: 0, max_concurrent_turns: 4}}
capacity:
  steps: [1, 2, 4, 8, 16]
  step_duration_s: 2
  warm_up_s: 1
  abort: false
  slos: ["goal_rate>=0.5", "p95_turn_s<=0.4", "error_rate<=0.05"]
""",
    )
    ran = spawn("capacity", "-f", str(config), "--drain", "10", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr[-3000:]
    (run,) = run_dirs(tmp_path / "runs")
    result = CapacityResult.from_json((run / CAPACITY_NAME).read_text(encoding="utf-8"))
    assert result.verdict.knee_users is not None, result.verdict.line
    page = (run / "capacity.html").as_uri()
    dom = parse_dom(dump_dom(page, tmp_path, budget_ms=2000))
    assert dom.find("svg", data_chart="capacity")
    screenshot(page, tmp_path, "capacity", size=(1280, 1000))


def test_the_monitor_dashboard(tmp_path: Path) -> None:
    """Three real collections against the bundled ticket agent, then the dashboard over their store."""
    from convoload.monitor.dashboard import DashboardSettings
    from convoload.monitor.dashboard.launcher import DashboardServer

    agent = write(
        tmp_path / "agent.yaml", "target: {type: demo, demo: {agent: tickets, reply_delay_s: 0.05}}\n"
    )
    monitor = write(
        tmp_path / "monitor.yaml",
        f"""
agent: {agent}
runs_dir: {tmp_path / "monitor-runs"}
logs: {{dir: {tmp_path / "logs"}}}
schedule:
  collect: {{conversations: 2, concurrency: 2}}
""",
    )
    for job in ("collect", "collect", "collect", "health"):
        ran = spawn("monitor", "-f", str(monitor), "--once", job, cwd=tmp_path)
        assert ran.returncode == 0, ran.stderr[-3000:]
    runs = tmp_path / "monitor-runs"
    settings = DashboardSettings(store_url=f"sqlite:///{runs / 'results.sqlite'}", runs_root=runs)
    with DashboardServer(settings) as server:
        dom = parse_dom(dump_dom(server.url + "/", tmp_path))
        assert int(dom.find("main", id="dashboard").attrs["data-renders"]) >= 1
        metrics = {e.attrs["data-metric"] for e in dom.find_all(data_metric=True)}
        assert "success_ratio" in metrics, metrics
        screenshot(server.url + "/", tmp_path, "dashboard", size=(1280, 1100))
