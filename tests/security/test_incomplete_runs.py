"""A run that did not do what it planned says so, and can never read "No action needed".

run.json keeps the plan from the start; a run killed with -9 and rebuilt with `convoload report` says how
many of how many planned conversations finished, and its assessment follows the incomplete-run rule
(report.grading): graded on the conversations it held, but the grade is at most
B, the health at best a warning, and the first recommendation says the run is incomplete. Before, the
rebuilt run of 3 perfect conversations out of 200 planned graded A+ / healthy, "No action needed".
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from convoload.model import ConversationRecord, Outcome
from convoload.report.aggregate import aggregate
from convoload.report.completion import NEVER_ENDED
from convoload.report.grading import assess
from convoload.store.results import ResultsStore
from tests.helpers import (
    Processes,
    first_journal,
    journal_lines,
    wait_until,
    write,
)


@pytest.mark.e2e
def test_a_run_killed_with_9_and_rebuilt_says_how_many_of_how_many_planned_finished(
    tmp_path: Path, processes: Processes
) -> None:
    config = write(
        tmp_path / "c.yaml",
        f"""
run: {{conversations: 200, concurrency: 3, seed: 2, runs_dir: "{tmp_path / "runs"}"}}
target: {{type: demo, demo: {{agent: tickets, reply_delay_s: 0.05, jitter_s: 0.0}}}}
""",
    )
    run = processes.convoload("run", "-f", str(config), cwd=tmp_path)
    journal = wait_until(lambda: first_journal(tmp_path / "runs", lines=3), "three finished conversations")
    meta = json.loads((journal.parent / "run.json").read_text())
    assert meta["plan"] == {"conversations": 200} and meta["status"] == "running"  # kept from the start
    run.signal(signal.SIGKILL)
    run.wait()
    finished = len(journal_lines(journal))
    assert all(r.goal_reached for r in journal_lines(journal))  # every one of them perfect

    report = processes.convoload("report", str(journal.parent), cwd=tmp_path)
    assert report.wait() == 0, report.err()[-3000:]
    assert f"{finished} of 200 planned conversations finished" in report.out()
    assert "incomplete" in report.out()
    document = json.loads((journal.parent / "aggregate.json").read_text())
    completion = document["summary"]["completion"]
    assert completion == {
        "complete": False,
        "planned_conversations": 200,
        "finished_conversations": finished,
        "stopped_by": NEVER_ENDED,
    }
    assert document["run"]["status"] == "interrupted"
    assessment = document["assessment"]
    assert assessment["recommendations"][0].startswith(f"Incomplete run: {finished} of 200 planned")
    assert not any(r.startswith("No action needed") for r in assessment["recommendations"])
    assert assessment["success_rate"] == 1.0  # what ran was perfect: stopping it is no fault of the agent
    assert assessment["grade"] == "B" and assessment["health"] == "warning"
    with ResultsStore(f"sqlite:///{tmp_path / 'runs' / 'results.sqlite'}", create=False) as store:
        assert store.get_run(journal.parent.name).status == "interrupted"


def records(count: int, *, interrupted: int = 0) -> list[ConversationRecord]:
    return [
        ConversationRecord(
            run_id="r",
            session_id=f"s{i}",
            user_id=i + 1,
            persona="P",
            started_at="",
            outcome=Outcome.INTERRUPTED if i < interrupted else Outcome.GOAL_REACHED,
        )
        for i in range(count)
    ]


def verdict(meta: dict, held: list[ConversationRecord]) -> tuple[dict, dict]:
    document = aggregate(held, meta)
    return document["summary"]["completion"], assess(document)


def test_the_incomplete_run_rule() -> None:
    # Ten perfect conversations, all planned: complete, A+ and nothing to do.
    completion, best = verdict({"plan": {"conversations": 10}, "status": "ended"}, records(10))
    assert completion["complete"] and best["grade"] == "A+" and best["health"] == "healthy"
    assert best["recommendations"] == ["No action needed: every check passed."]

    # Nineteen perfect of twenty planned, stopped by a signal: graded on the nineteen (an A+), but an
    # incomplete run is at most a B and at best a warning, and says why first.
    completion, cut = verdict({"plan": {"conversations": 20}, "stopped_by": "SIGTERM"}, records(19))
    assert not completion["complete"] and completion["finished_conversations"] == 19
    assert cut["success_rate"] == 1.0 and cut["grade"] == "B" and cut["health"] == "warning"
    assert cut["recommendations"] == [
        "Incomplete run: 19 of 20 planned conversations finished (stopped by SIGTERM). Its figures cover "
        "only the conversations it held (grade at most B): run it to the end before acting on its grade."
    ]

    # A stress test stopped early: no planned count, still incomplete.
    stress = {"plan": {"users": 3, "duration_s": 60}, "stopped_by": "SIGINT"}
    completion, stopped = verdict(stress, records(20))
    assert not completion["complete"] and stopped["grade"] == "B"
    assert stopped["recommendations"][0].startswith(
        "Incomplete run: 20 conversations finished (planned: 3 users"
    )

    # A run with neither a count nor a duration (Locust without -t) ends when it is stopped: complete.
    completion, open_ended = verdict({"plan": {"users": 3}, "stopped_by": "SIGTERM"}, records(20))
    assert completion["complete"] and open_ended["grade"] == "A+"
    # ... but a kill is not its planned end.
    completion, killed = verdict({"plan": {"users": 3}, "status": "running"}, records(20))
    assert not completion["complete"] and killed["recommendations"][0].startswith("Incomplete run")

    # Fewer finished than planned without any stop (a worker's share cut short): incomplete too; the
    # interrupted ones are not finished.
    completion, short = verdict(
        {"plan": {"conversations": 10}, "status": "ended"}, records(10, interrupted=2)
    )
    assert not completion["complete"] and completion["finished_conversations"] == 8
    assert short["grade"] == "C"  # 8 of 10 reached, graded as such: the cap never raises a grade

    # A run that held no conversation never reads "every check passed".
    _, empty = verdict({"plan": {"users": 3}}, [])
    assert empty["recommendations"] == ["No conversation was held: nothing was checked."]
