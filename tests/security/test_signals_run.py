"""SIGINT and SIGTERM end `convoload run`, `demo`, `converse` and `stress` the way their time limit does.

Each test runs the real CLI against the bundled ticket agent, waits until the run is demonstrably under
way (a finished conversation in the journal, or a reply in the transcript), sends the signal and reads
what was left: every conversation recorded (in-flight ones as interrupted) in the journal, the
conversation files and the results store, the aggregate and report written, the store's run
`interrupted`, the summary printed and the exit code 130 or 143. Before, Ctrl-C exited 0 and SIGTERM
killed the run with nothing written after the journal.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from xml.etree import ElementTree

import pytest

from convoload.store.results import ResultsStore
from tests.helpers import (
    EXIT,
    Processes,
    first_journal,
    journal_lines,
    wait_until,
    write,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def tickets_config(tmp_path: Path, *, conversations: int = 200, hooks: str = "") -> Path:
    return write(
        tmp_path / "c.yaml",
        f"""
run: {{conversations: {conversations}, concurrency: 3, seed: 5, runs_dir: "{tmp_path / "runs"}"}}
target: {{type: demo, demo: {{agent: tickets, reply_delay_s: 0.15, jitter_s: 0.0}}}}
{hooks}
""",
    )


def check_stopped_run(run_dir: Path, signum: int, *, planned: dict[str, object]) -> dict:
    """Everything a signal must leave behind in a run folder and the results store; returns the aggregate."""
    records = journal_lines(run_dir / "journal.jsonl")
    aggregate = json.loads((run_dir / "aggregate.json").read_text())
    summary = aggregate["summary"]
    assert summary["total_conversations"] == len(records) > 0
    interrupted = [r for r in records if r.outcome.value == "interrupted"]
    assert summary["interrupted_conversations"] == len(interrupted) >= 1  # the ones in flight
    assert len(list((run_dir / "conversations").glob("*.json"))) == len(records)
    assert (run_dir / "report.html").is_file() and (run_dir / "conversations.csv").is_file()

    completion = summary["completion"]
    name = signal.Signals(signum).name
    assert completion["stopped_by"] == name and completion["complete"] is False
    assert completion["finished_conversations"] == len(records) - len(interrupted)
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["plan"] == planned  # what the run set out to do, kept in run.json
    assert meta["status"] == "interrupted" and meta["stopped_by"] == name

    assessment = aggregate["assessment"]
    assert assessment["recommendations"][0].startswith("Incomplete run:")
    assert not any(r.startswith("No action needed") for r in assessment["recommendations"])
    assert assessment["grade"] not in ("A+", "A") and assessment["health"] != "healthy"

    with ResultsStore(f"sqlite:///{run_dir.parent / 'results.sqlite'}", create=False) as store:
        run = store.get_run(run_dir.name)
        stored = store.conversations(run_dir.name)
    assert run is not None and run.status == "interrupted"
    assert sorted(c.session_id for c in stored) == sorted(r.session_id for r in records)
    return aggregate


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_ends_run_like_its_time_limit(tmp_path: Path, processes: Processes, signum: int) -> None:
    config = tickets_config(tmp_path)
    junit, summary = tmp_path / "junit.xml", tmp_path / "summary.md"
    run = processes.convoload(
        "run", "-f", str(config), "--junit-xml", str(junit), "--summary-md", str(summary), cwd=tmp_path
    )
    journal = wait_until(lambda: first_journal(tmp_path / "runs"), "a finished conversation")
    run.signal(signum)
    assert run.wait() == EXIT[signum], run.err()[-3000:]

    aggregate = check_stopped_run(journal.parent, signum, planned={"conversations": 200})
    # CI still gets its files: a case per recorded conversation, the cut-off ones skipped
    cases = ElementTree.parse(junit).getroot().findall(".//testcase")
    assert len(cases) == aggregate["summary"]["total_conversations"]
    skipped = [case for case in cases if case.find("skipped") is not None]
    assert len(skipped) >= aggregate["summary"]["interrupted_conversations"]
    assert journal.parent.name in summary.read_text(encoding="utf-8")
    out = run.out()
    assert "goal reached" in out and "of 200 planned conversations finished" in out  # the summary
    assert "incomplete" in out and "report:" in out
    assert f"stopped early by {signal.Signals(signum).name}" in run.err()
    assert "Traceback" not in run.err()
    assert aggregate["summary"]["completion"]["planned_conversations"] == 200


@pytest.mark.parametrize(
    ("command", "signum"),
    [
        ("demo", signal.SIGTERM),
        ("converse", signal.SIGINT),
        ("stress", signal.SIGINT),
        ("stress", signal.SIGTERM),
    ],
)
def test_demo_converse_and_stress_end_the_same_way(
    tmp_path: Path, processes: Processes, command: str, signum: int
) -> None:
    runs = tmp_path / "runs"
    if command == "demo":
        args = ["demo", "--agent", "tickets", "-n", "100", "-c", "3", "--reply-delay", "0.15", "--quiet"]
        planned: dict[str, object] = {"conversations": 100}
    elif command == "converse":
        args = ["converse", "-f", str(tickets_config(tmp_path))]
        planned = {"conversations": 1}
    else:
        args = ["stress", "--agent", "tickets", "--users", "3", "--duration", "300", "--drain", "300"]
        planned = {"users": 3, "duration_s": 300.0, "profile": "steady"}
    process = processes.convoload(*args, "--runs-dir", str(runs), "--seed", "7", cwd=tmp_path)
    if command == "converse":  # one conversation: under way once the agent has replied
        process.wait_for_output("🤖")
        run_dir = wait_until(lambda: next(runs.glob("*/run.json"), None), "the run folder").parent
    else:
        run_dir = wait_until(lambda: first_journal(runs), "a finished conversation").parent
    process.signal(signum)
    assert process.wait() == EXIT[signum], process.err()[-3000:]
    if command == "converse":  # the only conversation, cut off mid-way
        [record] = journal_lines(run_dir / "journal.jsonl")
        assert record.outcome.value == "interrupted"
        assert (
            json.loads((run_dir / "aggregate.json").read_text())["summary"]["completion"]["complete"] is False
        )
        with ResultsStore(f"sqlite:///{runs / 'results.sqlite'}", create=False) as store:
            assert store.get_run(run_dir.name).status == "interrupted"
    else:
        check_stopped_run(run_dir, signum, planned=planned)
    assert "Conversations" in process.out()  # the summary was printed
    assert len([p for p in runs.iterdir() if p.is_dir()]) == 1  # demo: no second agent started after it


SLOW_HOOK = '''
import time
from pathlib import Path

def on_event(event, report):
    """Holds up the end of the run: the first interrupted conversation's hook never returns in time."""
    record = getattr(event, "record", None)
    if record is not None and record.outcome is not None and record.outcome.value == "interrupted":
        Path(__file__).with_name("hook-holding").touch()
        time.sleep(600)
'''


def test_a_second_signal_exits_at_once_with_finished_records_intact(
    tmp_path: Path, processes: Processes
) -> None:
    """The first SIGTERM's orderly end is held up (a hook that never returns); the second exits at once."""
    write(tmp_path / "slowhook.py", SLOW_HOOK)
    config = tickets_config(tmp_path, hooks="hooks: {custom: ['slowhook:on_event']}")
    run = processes.convoload(
        "run",
        "-f",
        str(config),
        cwd=tmp_path,
        PYTHONPATH=os.pathsep.join([str(tmp_path), *os.environ.get("PYTHONPATH", "").split(os.pathsep)]),
    )
    journal = wait_until(lambda: first_journal(tmp_path / "runs", lines=2), "two finished conversations")
    before = journal_lines(journal)
    run.signal(signal.SIGTERM)
    holding = tmp_path / "hook-holding"
    wait_until(lambda: holding.is_file() or run.process.poll() is not None, "the orderly end to be held up")
    assert holding.is_file(), f"exited ({run.process.returncode}) without an orderly end: {run.err()[-2000:]}"
    run.signal(signal.SIGTERM)
    assert run.wait(timeout=60) == 143  # not the hook's 600 s
    assert "SIGTERM again: exiting now" in run.err()

    after = journal_lines(journal)  # every line complete JSON
    assert [r.session_id for r in after[: len(before)]] == [r.session_id for r in before]
    assert all(r.turns for r in after)
    assert not (journal.parent / "aggregate.json").exists()  # it left at once, before writing it

    # `convoload report` then completes what the immediate exit left: the store row, the aggregate.
    rebuilt = processes.convoload("report", str(journal.parent), cwd=tmp_path)
    assert rebuilt.wait() == 0, rebuilt.err()[-3000:]
    aggregate = json.loads((journal.parent / "aggregate.json").read_text())
    assert aggregate["summary"]["total_conversations"] == len(after)
    assert aggregate["summary"]["completion"]["complete"] is False
    with ResultsStore(f"sqlite:///{tmp_path / 'runs' / 'results.sqlite'}", create=False) as store:
        assert store.get_run(journal.parent.name).status == "interrupted"
