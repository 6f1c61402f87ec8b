"""`convoload monitor` as a user runs it: bad config, one job on demand, and a clean stop on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from convoload.monitor.store import MonitorStore
from convoload.store.journal import read_journal
from tests.monitor.helpers import RealEstate, monitor_config

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ENV = {"COLUMNS": "200", "PATH": "/usr/bin:/bin", "HOME": "/tmp"}


def cli(*args: str, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "convoload", "monitor", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env=ENV,
        check=False,
    )


def test_a_malformed_config_is_one_line_naming_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "monitor.yaml"
    bad.write_text("schedule:\n  collect:\n    every_s: 0\n", encoding="utf-8")
    result = cli("-f", str(bad), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {bad}: schedule.collect.every_s: Input should be greater than 0"
    ]
    bad.write_text("alerting:\n  channels:\n    - {type: pager}\n", encoding="utf-8")
    result = cli("-f", str(bad), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {bad}: alerting.channels.0")
    assert "Traceback" not in result.stderr
    assert cli("--once", "nap", cwd=tmp_path).returncode == 2


def test_once_health_checks_the_bundled_system(tmp_path: Path) -> None:
    result = cli("--once", "health", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    checked = json.loads(result.stdout)
    assert checked == {"agent": {"up": True, "detail": "ok"}, "catalog": {"up": True, "detail": "ok"}}
    store = MonitorStore(f"sqlite:///{tmp_path / 'monitor-runs' / 'results.sqlite'}", create=False)
    assert [(j.job, j.status) for j in store.jobs()] == [("health", "ok")]
    assert (tmp_path / "logs" / "api.log").read_text().count("check=health") == 2
    store.close()


def test_sigterm_during_a_stress_test_stops_cleanly_keeping_every_result(
    tmp_path: Path, realestate: RealEstate
) -> None:
    config = monitor_config(
        tmp_path,
        realestate,
        schedule={
            "collect": {"every_s": 1, "conversations": 1, "concurrency": 1},
            "health": {"enabled": False},
            "stress": {"every_s": 1, "users": 2, "duration_s": 120, "drain_s": 60},
            "pipeline": {"enabled": False},
            "daily": {"enabled": False},
        },
    )
    path = tmp_path / "monitor.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "convoload", "monitor", "-f", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=ENV,
    )
    try:
        assert process.stdout is not None
        stress_started, collected = False, 0
        # The stress test under way, then five collections (a second apart): Locust has spawned its users.
        for line in process.stdout:
            stress_started = stress_started or ("stress" in line and "started" in line)
            collected += stress_started and "collect" in line and " ok" in line
            if collected == 5:
                break
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 143, err  # ended by SIGTERM, as a shell reports it
    assert "monitor stopped" in out
    store = MonitorStore(f"sqlite:///{tmp_path / 'runs' / 'results.sqlite'}", create=False)
    [job] = store.jobs(job="stress")
    assert job.status in ("ok", "failed") and job.finished_at is not None
    journal = next((tmp_path / "runs" / "stress").glob("*/journal.jsonl"))
    records = read_journal(journal)
    assert records
    from convoload.store.results import ResultsStore

    results = ResultsStore(store.url)
    run = results.get_run(journal.parent.name)
    assert run is not None and run.status in ("finished", "interrupted")
    assert len(results.conversations(run.run_id)) == len(records)  # nothing finished was lost
    results.close()
    store.close()
