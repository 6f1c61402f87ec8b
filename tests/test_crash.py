"""kill -9 in the middle of a run: every conversation that had finished is in the journal."""

import json
import os
import signal
import subprocess
import sys

from convoload.report.rebuild import rebuild_run
from convoload.store.journal import read_journal
from tests.conftest import run_dirs, write


def test_kill_9_keeps_every_finished_conversation(tmp_path):
    config = write(
        tmp_path / "c.yaml",
        f"""
run: {{conversations: 500, concurrency: 3, seed: 1, runs_dir: "{tmp_path / "runs"}"}}
target: {{type: demo, demo: {{reply_delay_s: 0.01, jitter_s: 0.0}}}}
""",
    )
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    process = subprocess.Popen(
        [sys.executable, "-m", "convoload", "run", "-f", str(config), "--transcript"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    finished_sessions = []
    try:
        for line in process.stdout:  # wait for progress by reading output, not by sleeping
            if "goal reached after" in line:
                finished_sessions.append(line.split("]")[0].split()[-1])
                if len(finished_sessions) == 4:
                    break
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
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
