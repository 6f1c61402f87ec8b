"""The monitor's smaller parts: metrics window, logs, schedule discipline, daily report, config."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from convoload.errors import ConfigError
from convoload.model import ConversationRecord, ErrorKind, Outcome, TurnError, TurnRecord
from convoload.monitor import logs
from convoload.monitor.config import MonitorConfig, load_monitor_config
from convoload.monitor.daily import build_daily_report
from convoload.monitor.service import Monitor
from convoload.monitor.store import MonitorStore, Sample
from convoload.monitor.window import ConversationWindow


def _record(
    goal: bool, latencies: list[float], failed: int = 0, agents: list[str] | None = None
) -> ConversationRecord:
    turns = [
        TurnRecord(
            iteration=i + 1, user_text="oi", sent_at="t", latency_ms=ms, agent=(agents or [None] * 9)[i]
        )
        for i, ms in enumerate(latencies)
    ]
    turns += [
        TurnRecord(
            iteration=len(turns) + 1 + i,
            user_text="oi",
            sent_at="t",
            error=TurnError(kind=ErrorKind.TIMEOUT, message="slow"),
        )
        for i in range(failed)
    ]
    return ConversationRecord(
        run_id="r",
        session_id=f"s{len(latencies)}{failed}{goal}",
        user_id=1,
        persona="Renata",
        started_at="t",
        outcome=Outcome.GOAL_REACHED if goal else Outcome.ERROR,
        turns=turns,
    )


def test_the_window_forgets_old_conversations_and_computes_rates() -> None:
    now = [1000.0]
    window = ConversationWindow(60, clock=lambda: now[0])
    assert window.metrics().success_rate is None  # no data is not 0 %
    window.add(_record(False, [100.0], failed=1))
    now[0] += 61
    window.add(_record(True, [200.0, 400.0], agents=["triagem", "busca"]))
    window.add(_record(True, [600.0, 800.0], agents=["triagem", "triagem"]))
    metrics = window.metrics()
    assert metrics.conversations == 2  # the first one left the window
    assert metrics.success_rate == 1.0
    assert metrics.error_rate == 0.0
    assert metrics.response_time_mean_s == pytest.approx(0.5)
    assert metrics.response_time_p95_s == pytest.approx(0.77)
    assert metrics.transitions == {("triagem", "busca"): 1}
    assert window.totals.outcomes == {"error": 1, "goal_reached": 2}  # totals keep everything
    assert window.totals.error_kinds == {"timeout": 1}


def test_logs_rotate_and_never_show_a_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from convoload.envsecrets import secret_from_env

    monkeypatch.setenv("MONITOR_TEST_KEY", "sk-very-secret-value")
    secret_from_env("MONITOR_TEST_KEY")
    handlers = logs.setup_logs(tmp_path, max_bytes=2048, backups=2)
    try:
        for i in range(100):
            logs.API.info(logs.logfmt(check="health", component="catalog", n=i, detail="with a space"))
        logs.AGENTS.info(logs.logfmt(key="sk-very-secret-value"))
        logging.getLogger("convoload.monitor").error("boom sk-very-secret-value")
    finally:
        logs.close_logs(handlers)
    assert (tmp_path / "api.log.1").is_file() and (tmp_path / "api.log.2").is_file()
    assert not (tmp_path / "api.log.3").exists()
    assert 'detail="with a space"' in (tmp_path / "api.log").read_text()
    everything = "".join(p.read_text() for p in tmp_path.iterdir())
    assert "sk-very-secret-value" not in everything
    assert "key=***" in (tmp_path / "agents.log").read_text()
    assert "boom ***" in (tmp_path / "errors.log").read_text()


def test_jobs_never_overlap_themselves_and_missed_runs_coalesce(tmp_path: Path) -> None:
    config = MonitorConfig.model_validate(
        {
            "runs_dir": str(tmp_path),
            "timezone": "UTC",
            "schedule": {
                "pipeline": {
                    "system": {
                        "chat_url": "http://127.0.0.1:9/api/chat",
                        "catalog_url": "http://127.0.0.1:9",
                        "health_url": "http://127.0.0.1:9/health",
                    }
                }
            },
        }
    )
    monitor = Monitor(config)
    scheduler = monitor._schedule()
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {"collect", "health", "stress", "pipeline", "daily"}
    for job in jobs.values():
        assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, None)
    assert jobs["collect"].trigger.interval.total_seconds() == 60
    assert jobs["health"].trigger.interval.total_seconds() == 300
    assert jobs["stress"].trigger.interval.total_seconds() == 1800
    assert jobs["pipeline"].trigger.interval.total_seconds() == 7200
    assert str(jobs["daily"].trigger) == "cron[hour='2', minute='0']"
    monitor.store.close()


def test_the_daily_report_worst_case_wins(tmp_path: Path) -> None:
    store = MonitorStore(f"sqlite:///{tmp_path / 'r.sqlite'}")
    store.add_samples(
        [
            Sample("convoload_success_ratio", 0.95),
            Sample("convoload_component_up", 1.0, {"component": "agent"}),
        ]
    )
    store.add_samples(
        [
            Sample("convoload_success_ratio", 0.99),
            Sample("convoload_component_up", 0.0, {"component": "agent"}),
        ]
    )
    ok = store.start_job("stress")
    store.finish_job(
        ok,
        status="ok",
        run_id="stress-1",
        summary={
            "grade": "A",
            "health": "healthy",
            "success_rate": 1.0,
            "recommendations": ["Cache the catalog lookups."],
        },
    )
    bad = store.start_job("pipeline")
    store.finish_job(bad, status="failed", error="RuntimeError: catalog gone")
    report = build_daily_report(store, now=datetime.now(UTC), status="healthy")
    assert report["jobs"] == {"pipeline": {"failed": 1}, "stress": {"ok": 1}}
    assert report["metrics"]["success_ratio"]["min"] == 0.95
    assert report["metrics"]["success_ratio"]["last"] == 0.99
    assert report["availability"] == {"agent": 0.5}
    assert report["overall"]["health"] == "critical"  # the agent was down half the day
    assert report["recommendations"] == [  # the day's own trouble first, then the runs' advice
        {"text": "agent was down in 1 of 2 health checks: see api.log.", "times": 1},
        {"text": "Monitor jobs failed: see failed_jobs and errors.log.", "times": 1},
        {"text": "Cache the catalog lookups.", "times": 1},
    ]
    assert report["failed_jobs"][0]["error"] == "RuntimeError: catalog gone"
    store.close()


def test_config_errors_name_the_field(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    cases = {
        "timezone: Mars/Olympus\n": "timezone",
        "components:\n  - {name: x}\n": "components.0",
        "components:\n  - {name: x, provider: skynet}\n": "components.0",
        "schedule:\n  daily: {at: '25:00'}\n": "schedule.daily.at",
        "agent: missing.yaml\n": "agent",
        "surprise: 1\n": "surprise",
    }
    for text, field in cases.items():
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError) as info:
            load_monitor_config(path)
        assert (info.value.source, info.value.field) == (str(path), field), text


def test_the_dashboard_view_of_the_store_never_migrates(tmp_path: Path) -> None:
    from sqlalchemy import create_engine, inspect

    from convoload.store.results.migrations import SchemaVersionError, migrate

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = create_engine(url)
    migrate(engine, target=2)  # written by a convoload before the monitor existed
    engine.dispose()
    with pytest.raises(SchemaVersionError, match="schema version 2"):
        MonitorStore(url, create=False, read_only=True)
    assert "metric_samples" not in inspect(create_engine(url)).get_table_names()
    MonitorStore(url).close()  # the monitor migrates
    MonitorStore(url, create=False, read_only=True).close()
