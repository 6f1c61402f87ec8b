"""`convoload monitor`'s service against the real-estate assistant, on a shortened schedule."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import pytest
import yaml

from convoload.monitor.config import MonitorConfig
from convoload.monitor.service import Monitor
from convoload.monitor.store import MonitorStore
from convoload.store.results import ResultsStore
from tests.monitor.helpers import RealEstate, monitor_config

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SCENARIO = [
    {
        "name": "quick_booking",
        "description": "one user through to a booked visit",
        "conversations": 1,
        "personas": ["renata"],
        "goal": {"type": "regex", "pattern": "visita agendada|visit booked"},
    }
]


def _config(tmp_path: Path, system: RealEstate, **sections: object) -> MonitorConfig:
    data = monitor_config(tmp_path, system, **sections)
    return MonitorConfig.model_validate(data).model_copy(update={"base_dir": tmp_path})


def _intervals_overlap(spans: list[tuple[str, str]]) -> bool:
    return any(later[0] < earlier[1] for earlier, later in pairwise(sorted(spans)))


def test_every_scheduled_job_runs_and_records_its_results(tmp_path: Path, realestate: RealEstate) -> None:
    (tmp_path / "scenarios.yaml").write_text(yaml.safe_dump(SCENARIO), encoding="utf-8")
    system = {
        "chat_url": realestate.assistant.url + "/api/chat",
        "catalog_url": realestate.catalog.url,
        "health_url": realestate.assistant.url + "/health",
    }
    config = _config(
        tmp_path,
        realestate,
        timezone="America/Sao_Paulo",
        schedule={
            "collect": {"every_s": 2, "conversations": 2, "concurrency": 2},
            "health": {"every_s": 1},
            "stress": {"every_s": 1, "users": 2, "duration_s": 1, "drain_s": 30},
            "pipeline": {"every_s": 1, "scenarios": "scenarios.yaml", "system": system},
            "daily": {"at": "02:00", "stress_users": 2, "stress_duration_s": 1, "pipeline_repeat": 2},
        },
    )
    monitor = Monitor(config)
    monitor.start()
    try:
        daily_next = monitor.next_runs()["daily"]
        assert monitor.wait_jobs({"collect": 2, "health": 2, "stress": 1, "pipeline": 1}, timeout_s=240)
        summary = monitor.run_job("daily")  # the 02:00 job, now
    finally:
        monitor.shutdown()

    assert (daily_next.hour, daily_next.minute, str(daily_next.tzinfo)) == (2, 0, "America/Sao_Paulo")
    store = MonitorStore(f"sqlite:///{tmp_path / 'runs' / 'results.sqlite'}")
    jobs = store.jobs(limit=1000)
    assert jobs and all(j.status == "ok" for j in jobs), [(j.job, j.error) for j in jobs if j.status != "ok"]
    by_name: dict[str, list] = {}
    for job in jobs:
        by_name.setdefault(job.job, []).append(job)
    assert {"collect", "health", "stress", "pipeline", "daily"} <= set(by_name)
    # A job never overlaps itself, and the load jobs never overlap each other.
    for name, rows in by_name.items():
        assert not _intervals_overlap([(j.started_at, j.finished_at) for j in rows]), name
    heavy = [(j.started_at, j.finished_at) for j in jobs if j.job in ("stress", "pipeline", "daily")]
    assert not _intervals_overlap(heavy)

    latest = {s.series: s.value for s in store.latest()}
    assert latest['convoload_component_up{component="agent"}'] == 1.0
    assert latest['convoload_component_up{component="catalog"}'] == 1.0
    # Every collection books its visits, although the stress and pipeline jobs book the same listings and
    # times meanwhile: the catalog, as the bundled system runs it, gives booked slots back.
    ratios = [s.value for s in store.series("convoload_success_ratio")]
    assert len(ratios) >= 2 and set(ratios) == {1.0}
    assert latest["convoload_success_ratio"] == 1.0
    assert latest["convoload_error_ratio"] == 0.0
    assert latest["convoload_cost_per_success_usd"] == 0.0  # scripted users and an agent reporting no cost
    assert latest["convoload_response_time_p95_seconds"] > 0
    assert latest["convoload_health_status"] == 0
    assert any(k.startswith("convoload_agent_transitions{") for k in latest)
    assert store.alerts() == []

    # Every synthetic conversation is in the day's probe run; stress and pipeline runs are there too.
    results = ResultsStore(store.url)
    probe_runs = [r for r in results.list_runs(100) if r.run_id.startswith("probes-")]
    assert len(probe_runs) == 1
    collected = sum(j.summary.conversations for j in by_name["collect"])
    assert len(results.conversations(probe_runs[0].run_id)) == collected
    stress_run = next(j for j in by_name["stress"])
    assert results.get_run(stress_run.run_id) is not None
    assert Path(stress_run.report).is_file()
    pipeline_job = by_name["pipeline"][0]
    assert json.loads(Path(pipeline_job.report).read_text())["overall"]["conversations"] == 1

    # The daily report covers the day's jobs.
    assert summary is not None
    report_path = tmp_path / "runs" / "daily" / summary.report
    report = json.loads(report_path.read_text())
    done_before = [j for j in by_name["collect"] if j.finished_at <= report["generated_at"]]
    assert report["jobs"]["collect"]["ok"] == len(done_before)
    assert report["jobs"]["stress"]["ok"] >= 1
    assert {r["job"] for r in report["runs"]} >= {"stress", "pipeline"}
    assert report["overall"]["health"] == "healthy"
    assert report["availability"] == {"agent": 1.0, "catalog": 1.0}
    assert report["comprehensive"]["pipeline"]["conversations"] == 2  # the scenario, twice
    assert report["recommendations"]
    assert report_path.with_suffix(".html").read_text().count('data-health="healthy"') == 1

    logs = tmp_path / "logs"
    assert "persona=" in (logs / "agents.log").read_text()
    api = (logs / "api.log").read_text()
    assert "check=health component=catalog up=True" in api
    assert "event=metrics" in (logs / "performance.log").read_text()
    assert (logs / "errors.log").read_text() == ""
    results.close()
    store.close()
