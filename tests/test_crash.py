"""kill -9 in the middle of a run: every conversation that had finished is in the journal."""

import json
import os
import signal
import subprocess
import sys

import pytest

from convoload.report.rebuild import rebuild_run
from convoload.store.journal import read_journal
from tests.helpers import run_dirs, write

pytestmark = pytest.mark.e2e

ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}


def kill_9_after(tmp_path, finished, concurrency, seed):
    """`convoload run` against the demo agent, killed with SIGKILL once `finished` conversations
    reached their goal; returns the short session ids the transcript showed as finished."""
    config = write(
        tmp_path / "c.yaml",
        f"""
run: {{conversations: 500, concurrency: {concurrency}, seed: {seed}, runs_dir: "{tmp_path / "runs"}"}}
target: {{type: demo, demo: {{reply_delay_s: 0.01, jitter_s: 0.0}}}}
""",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "convoload", "run", "-f", str(config), "--transcript"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=ENV,
    )
    finished_sessions = []
    try:
        for line in process.stdout:  # wait for progress by reading output, not by sleeping
            if "goal reached after" in line:
                finished_sessions.append(line.split("]")[0].split()[-1])
                if len(finished_sessions) == finished:
                    break
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    return finished_sessions


def test_kill_9_keeps_every_finished_conversation(tmp_path):
    finished_sessions = kill_9_after(tmp_path, 4, concurrency=3, seed=1)
    assert len(finished_sessions) == 4

    (run_dir,) = run_dirs(tmp_path / "runs")
    records = read_journal(run_dir / "journal.jsonl")
    journaled = {r.session_id[:6] for r in records}
    assert set(finished_sessions) <= journaled
    assert all(r.goal_reached and r.turns for r in records)
    assert not (run_dir / "aggregate.json").exists()  # the run never got to write it

    document = rebuild_run(run_dir)
    assert document["summary"]["total_conversations"] == len(records) >= 4
    assert json.loads((run_dir / "aggregate.json").read_text())["summary"]["successful_conversations"] == len(
        records
    )


@pytest.mark.slow
def test_report_after_kill_9_puts_the_last_batch_back_into_the_results_store(tmp_path):
    kill_9_after(tmp_path, 12, concurrency=4, seed=2)
    (run_dir,) = run_dirs(tmp_path / "runs")
    journaled = {r.session_id for r in read_journal(run_dir / "journal.jsonl")}
    assert len(journaled) >= 12

    result = subprocess.run(
        [sys.executable, "-m", "convoload", "report", str(run_dir)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "conversations put back from the journal" in result.stdout, result.stdout
    from convoload.store.results import ResultsStore

    with ResultsStore(f"sqlite:///{tmp_path / 'runs' / 'results.sqlite'}", create=False) as store:
        stored = [r.session_id for r in store.conversations(run_dir.name)]
        run = store.get_run(run_dir.name)
    assert sorted(stored) == sorted(journaled)  # every journaled conversation, none twice
    assert run.status == "interrupted" and run.conversations == len(journaled)
