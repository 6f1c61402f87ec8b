"""The real `locust` command with convoload's locustfile, headless, against the demo agent."""

import csv
import json
import os
import subprocess
import sys

import pytest

from convoload.store.journal import read_journal
from tests.helpers import REPO, run_dirs, write

pytestmark = pytest.mark.e2e

LOCUSTFILE = REPO / "src" / "convoload" / "load" / "locustfile.py"


def locust(tmp_path, config, *args, timeout=120):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("LOCUST_STOP_TIMEOUT", None)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(LOCUSTFILE),
            "--headless",
            "--convoload-config",
            str(config),
            "--runs-dir",
            str(tmp_path / "runs"),
            "--csv",
            str(tmp_path / "results"),
            "--json-file",
            str(tmp_path / "stats"),
            "--only-summary",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=tmp_path,
        env=env,
    )


def rows(tmp_path):
    """Final Locust stats. (Locust rewrites its CSV once a second, so the last second can be missing there;
    the JSON file is written at shutdown.)"""
    entries = json.loads((tmp_path / "stats.json").read_text())
    return {(e["method"], e["name"]): e for e in entries}


@pytest.mark.slow
def test_headless_locust_run_reports_conversation_request_types(tmp_path):
    config = write(
        tmp_path / "c.yaml",
        "run: {seed: 3}\ntarget: {type: demo, demo: {reply_delay_s: 0.01, jitter_s: 0.0}}\n",
    )
    result = locust(tmp_path, config, "-u", "3", "-r", "3", "-t", "3s")
    assert result.returncode == 0, result.stderr[-3000:]
    stats = rows(tmp_path)
    types = {t for t, _ in stats}
    assert {"MESSAGE", "WEBHOOK", "CONVERSATION"} == types
    names = {n for t, n in stats if t == "CONVERSATION"}
    assert names <= {"Kataryna", "Talliz", "Edman"} and names
    assert all(r["num_failures"] == 0 for r in stats.values())
    with open(tmp_path / "results_stats.csv", newline="") as handle:
        assert {"MESSAGE", "WEBHOOK", "CONVERSATION"} <= {r["Type"] for r in csv.DictReader(handle)}

    (run_dir,) = run_dirs(tmp_path / "runs")
    records = read_journal(run_dir / "journal.jsonl")
    conversations = sum(r["num_requests"] for (t, _), r in stats.items() if t == "CONVERSATION")
    assert len(records) == conversations > 0
    assert all(r.goal_reached for r in records)  # the default stop timeout let them finish
    assert (run_dir / "aggregate.json").is_file()
    assert "goal reached" in result.stderr  # our summary table


@pytest.mark.slow
def test_conversations_cut_off_by_the_end_of_the_test_are_interrupted(tmp_path):
    config = write(tmp_path / "c.yaml", "target: {type: demo, demo: {reply_delay_s: 0.4, jitter_s: 0.0}}\n")
    result = locust(tmp_path, config, "-u", "3", "-r", "3", "-t", "2s", "--stop-timeout", "0")
    assert result.returncode == 1  # Locust: the test had failures
    stats = rows(tmp_path)
    conversations = [r for (t, _), r in stats.items() if t == "CONVERSATION"]
    assert sum(r["num_failures"] for r in conversations) == sum(r["num_requests"] for r in conversations) == 3
    (run_dir,) = run_dirs(tmp_path / "runs")
    records = read_journal(run_dir / "journal.jsonl")
    assert [r.outcome.value for r in records] == ["interrupted"] * 3
    assert "interrupted" in result.stderr  # Locust's error report lists the failure reason


def test_bad_config_under_locust_exits_2_with_one_line(tmp_path):
    config = write(tmp_path / "c.yaml", "target: {type: http}\n")
    result = locust(tmp_path, config, "-u", "1", "-t", "1s")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"error: {config}: target: a http target needs 'url'" in result.stderr


@pytest.mark.slow
def test_web_ui_mode_runs_conversations(tmp_path):
    """The web UI process (autostarted, as a person pressing Start would) runs the same users."""
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    config = write(tmp_path / "c.yaml", "target: {type: demo, demo: {reply_delay_s: 0.01, jitter_s: 0.0}}\n")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(LOCUSTFILE),
            "--web-host",
            "127.0.0.1",
            "--web-port",
            str(port),
            "--autostart",
            "--autoquit",
            "0",
            "-u",
            "2",
            "-r",
            "2",
            "-t",
            "2s",
            "--convoload-config",
            str(config),
            "--runs-dir",
            str(tmp_path / "runs"),
            "--json-file",
            str(tmp_path / "stats"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (run_dir,) = run_dirs(tmp_path / "runs")
    records = read_journal(run_dir / "journal.jsonl")
    assert records and all(r.goal_reached for r in records)
    stats = rows(tmp_path)
    assert sum(r["num_requests"] for (t, _), r in stats.items() if t == "CONVERSATION") == len(records)
