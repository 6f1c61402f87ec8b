"""The daily report counts what the runs said, says when it is not all clear, and never overwrites one."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from convoload.monitor.daily import build_daily_report, write_daily_report
from convoload.monitor.store import MonitorStore, Sample

ALL_CLEAR = "No action needed: every check passed."


def _store(tmp_path: Path) -> MonitorStore:
    return MonitorStore(f"sqlite:///{tmp_path / 'results.sqlite'}")


def _run(
    store: MonitorStore,
    job: str,
    recommendations: list[str],
    health: str = "healthy",
    started_at: str | None = None,
) -> None:
    """A finished stress or pipeline job, with the summary the monitor records for it."""
    job_id = store.start_job(job, started_at=started_at)
    summary = {"grade": "A+", "health": health, "success_rate": 1.0, "recommendations": recommendations}
    store.finish_job(job_id, status="ok", run_id=f"{job}-{job_id}", summary=summary)


def test_four_healthy_runs_are_four_times_no_action_needed(tmp_path: Path) -> None:
    store = _store(tmp_path)
    try:
        for job in ("stress", "pipeline", "stress", "pipeline"):
            _run(store, job, [ALL_CLEAR])
        report = build_daily_report(store, now=datetime.now(UTC))
        assert report["overall"]["health"] == "healthy"
        assert report["recommendations"] == [{"text": ALL_CLEAR, "times": 4}]

        # The comprehensive test's parts are runs too, and a run with advice is not all clear.
        _run(store, "stress", ["Cache the catalog lookups.", "Shorten the prompts."], "warning")
        clean = {"recommendations": [ALL_CLEAR]}
        report = build_daily_report(store, now=datetime.now(UTC), comprehensive={"stress": clean})
        assert report["recommendations"] == [
            {"text": "Cache the catalog lookups.", "times": 1},
            {"text": "Shorten the prompts.", "times": 1},
        ]
    finally:
        store.close()


def test_an_earlier_daily_jobs_runs_are_counted(tmp_path: Path) -> None:
    store = _store(tmp_path)
    try:
        job_id = store.start_job("daily")
        parts = {"pipeline": {"recommendations": [ALL_CLEAR]}, "stress": {"recommendations": [ALL_CLEAR]}}
        store.finish_job(job_id, status="ok", summary={"report": "daily_report_x.json", **parts})
        report = build_daily_report(store, now=datetime.now(UTC))
        assert report["recommendations"] == [{"text": ALL_CLEAR, "times": 2}]
    finally:
        store.close()


def test_no_action_needed_is_never_said_of_a_day_with_downtime_or_failures(tmp_path: Path) -> None:
    store = _store(tmp_path)
    try:
        _run(store, "stress", [ALL_CLEAR])
        for up in (1.0, 0.0, 1.0, 0.0):
            store.add_samples([Sample("convoload_component_up", up, {"component": "catalog"})])
        failed = store.start_job("pipeline")
        store.finish_job(failed, status="failed", error="RuntimeError: catalog gone")
        report = build_daily_report(store, now=datetime.now(UTC), status="warning")
        assert report["overall"]["health"] == "critical"
        assert report["recommendations"] == [
            {"text": "catalog was down in 2 of 4 health checks: see api.log.", "times": 2},
            {"text": "Monitor jobs failed: see failed_jobs and errors.log.", "times": 1},
            {"text": "Alerts are warning now: see the active alerts.", "times": 1},
        ]
    finally:
        store.close()


def test_a_second_report_the_same_day_is_kept_beside_the_first(tmp_path: Path) -> None:
    store = _store(tmp_path)
    folder = tmp_path / "daily"
    now = datetime(2026, 3, 14, 2, 0, tzinfo=UTC)
    try:
        first = write_daily_report(store, folder, now=now)
        _run(store, "stress", ["Cache the catalog lookups."], started_at="2026-03-14T01:30:00.000Z")
        second = write_daily_report(store, folder, now=now)
        third = write_daily_report(store, folder, now=now)
    finally:
        store.close()
    assert [p.name for p in (first, second, third)] == [
        "daily_report_20260314.json",
        "daily_report_20260314-2.json",
        "daily_report_20260314-3.json",
    ]
    assert json.loads(first.read_text())["runs"] == []  # the first report is intact
    assert len(json.loads(second.read_text())["runs"]) == 1
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [p.name for p in (first, second, third)]
        + [p.with_suffix(".html").name for p in (first, second, third)]
    )
