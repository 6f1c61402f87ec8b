"""Signals end `convoload pipeline` and `convoload monitor` with what ran written, and exit 130 / 143.

The pipeline ends the scenario under way the way a run's time limit does, skips the rest and still
writes real_test_results.json and scenarios.csv, marked incomplete (before, SIGTERM killed it with no
results at all). The monitor's jobs under way end then and are recorded (the stress test's run with its
aggregate and report, marked interrupted), and it exits 130 on Ctrl-C (before: 0).
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
import yaml

from convoload.monitor.store import MonitorStore
from convoload.store.results import ResultsStore
from tests.helpers import (
    EXIT,
    Processes,
    first_journal,
    journal_lines,
    wait_until,
    write,
)
from tests.monitor.helpers import RealEstate, monitor_config

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_ends_the_pipeline_with_partial_results_written(
    tmp_path: Path, processes: Processes, signum: int
) -> None:
    scenarios = write(
        tmp_path / "s.yaml",
        "- {name: long_one, conversations: 60, concurrency: 2, personas: [renata, marcus]}\n"
        "- {name: never_started, conversations: 1, personas: [renata]}\n",
    )
    runs = tmp_path / "runs"
    pipeline = processes.convoload(
        "pipeline", "--scenarios", str(scenarios), "--listings", "1000", "--runs-dir", str(runs), cwd=tmp_path
    )
    journal = wait_until(lambda: first_journal(runs, "pipeline-*/*/journal.jsonl"), "a finished conversation")
    pipeline.signal(signum)
    assert pipeline.wait() == EXIT[signum], pipeline.err()[-3000:]

    folder = journal.parent.parent
    document = json.loads((folder / "real_test_results.json").read_text())
    assert (folder / "scenarios.csv").is_file()
    name = signal.Signals(signum).name
    assert document["stopped_by"] == name and document["skipped_scenarios"] == ["never_started"]
    [scenario] = document["scenarios"]
    assert scenario["complete"] is False and scenario["recommendations"][0].startswith("Incomplete:")
    assert scenario["conversations"] == len(journal_lines(journal)) < 60
    overall = document["overall"]
    assert overall["recommendations"][0].startswith(f"Incomplete pipeline (stopped by {name})")
    assert not any(r.startswith("No action needed") for r in overall["recommendations"])
    assert overall["grade"] not in ("A+", "A") and overall["health"] != "healthy"
    run = json.loads((journal.parent / "aggregate.json").read_text())["run"]
    assert run["status"] == "interrupted" and run["stopped_by"] == name
    with ResultsStore(f"sqlite:///{runs / 'results.sqlite'}", create=False) as store:
        assert store.get_run(journal.parent.name).status == "interrupted"
    assert "Incomplete pipeline" in pipeline.out()  # the results table and recommendations, printed


def test_ctrl_c_stops_the_monitor_with_the_stress_test_under_way_recorded(
    tmp_path: Path, processes: Processes, realestate: RealEstate
) -> None:
    config = monitor_config(
        tmp_path,
        realestate,
        schedule={
            "collect": {"enabled": False},
            "health": {"enabled": False},
            "stress": {"every_s": 1, "users": 2, "duration_s": 300, "drain_s": 300},
            "pipeline": {"enabled": False},
            "daily": {"enabled": False},
        },
    )
    path = tmp_path / "monitor.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    monitor = processes.convoload("monitor", "-f", str(path), cwd=tmp_path)
    journal = wait_until(
        lambda: first_journal(tmp_path / "runs" / "stress"), "a finished stress conversation"
    )
    monitor.signal(signal.SIGINT)
    assert monitor.wait() == 130, monitor.err()[-3000:]
    assert "monitor stopped" in monitor.out()

    store = MonitorStore(f"sqlite:///{tmp_path / 'runs' / 'results.sqlite'}", create=False)
    try:
        [job] = store.jobs(job="stress")
    finally:
        store.close()
    assert job.status == "ok" and job.finished_at is not None and job.run_id == journal.parent.name
    assert job.summary.complete is False
    run_dir = journal.parent
    aggregate = json.loads((run_dir / "aggregate.json").read_text())
    assert (run_dir / "report.html").is_file()
    assert aggregate["summary"]["total_conversations"] == len(journal_lines(run_dir / "journal.jsonl"))
    assert aggregate["summary"]["interrupted_conversations"] >= 1
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["plan"] == {"users": 2, "duration_s": 300.0, "profile": "steady"}
    assert meta["status"] == "interrupted" and meta["stopped_by"] == "SIGINT"
    with ResultsStore(f"sqlite:///{tmp_path / 'runs' / 'results.sqlite'}", create=False) as results:
        assert results.get_run(run_dir.name).status == "interrupted"
