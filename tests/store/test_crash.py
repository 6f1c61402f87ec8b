"""kill -9 in the middle of a run loses no conversation the writer had committed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from convoload.store.results import ResultsStore

pytestmark = pytest.mark.e2e

WRITER = textwrap.dedent(
    """
    import sys
    from convoload.store.results import ResultsStore
    from tests.store.scenario import Outcome, conversation

    store = ResultsStore(sys.argv[1])
    store.start_run("crash-run", {"users": 1})
    for i in range(1, 1_000_000):
        session_id = f"s-{i}"
        record = conversation("crash-run", session_id, "Buyer", [10.0, 20.0], Outcome.GOAL_REACHED, 30, 0)
        store.add_conversation("crash-run", record)
        print(session_id, flush=True)  # only after the commit returned
    """
)

COMMITTED = 5


def test_kill_9_mid_run_keeps_committed_conversations(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'results.sqlite'}"
    repo = Path(__file__).resolve().parents[2]
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, url],
        cwd=repo,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(repo)},
    )
    try:
        assert writer.stdout is not None
        seen = [writer.stdout.readline().strip() for _ in range(COMMITTED)]
        assert seen == [f"s-{i}" for i in range(1, COMMITTED + 1)]
        writer.send_signal(signal.SIGKILL)
    finally:
        writer.kill()
        writer.wait()
    assert writer.returncode == -signal.SIGKILL

    with ResultsStore(url) as store:
        run = store.get_run("crash-run")
        assert run is not None and run.status == "running" and run.finished_at is None
        stored = [r.session_id for r in store.conversations("crash-run")]
        assert set(seen) <= set(stored)
        # Whole conversations only: each stored one has both of its turns.
        assert run.conversations == len(stored)
        assert all(len(r.turns) == 2 for r in store.conversations("crash-run"))
