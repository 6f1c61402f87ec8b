"""What the Conversations tab keeps and shows: the journal's tail, bounded, failed first; its filter; its
numbers from the run's own aggregator."""

from __future__ import annotations

from pathlib import Path

from convoload.load.webui import TranscriptTail, numbers_rows, select, transcript_rows
from convoload.model import ConversationRecord, Outcome
from convoload.model.records import ErrorKind, TurnError, TurnRecord
from convoload.report.aggregate import Aggregator
from convoload.store.journal import JOURNAL_NAME, RunJournal


def record(
    n: int, outcome: Outcome, persona: str = "Edman", *, error: ErrorKind | None = None
) -> ConversationRecord:
    turns = [
        TurnRecord(
            iteration=i,
            user_text=f"message {i} of {n}",
            sent_at="2026-01-01T10:00:00+00:00",
            reply_text=f"reply {i} of {n}",
        )
        for i in range(1, 4)
    ]
    failure = TurnError(kind=error, message="the agent answered 503", status_code=503) if error else None
    if failure is not None:
        turns[-1].reply_text = None
        turns[-1].error = failure
    return ConversationRecord(
        run_id="r",
        session_id=f"s{n:04d}",
        user_id=n,
        persona=persona,
        started_at="2026-01-01T10:00:00+00:00",
        finished_at=f"2026-01-01T10:{n // 60 % 60:02d}:{n % 60:02d}+00:00",
        outcome=outcome,
        stop_reason="goal" if outcome == Outcome.GOAL_REACHED else "no goal after 3 iterations",
        error=failure,
        turns=turns,
    )


def outcome_of(n: int) -> Outcome:
    return Outcome.MAX_ITERATIONS if n % 10 == 0 else Outcome.GOAL_REACHED


def test_keeps_the_latest_and_the_latest_failed_failed_first(tmp_path: Path):
    journal = RunJournal(tmp_path / "run")
    tail = TranscriptTail(kept=5)
    for n in range(1, 101):
        journal.append(record(n, outcome_of(n)))
        if n % 7 == 0:  # read as a page would, between conversations
            tail.follow(tmp_path / "run")
    tail.follow(tmp_path / "run")
    journal.close()
    shown = [r.session_id for r in tail.records()]
    # The 5 latest failed (newest first), then the latest successful ones among the 5 latest.
    assert shown == ["s0100", "s0090", "s0080", "s0070", "s0060", "s0099", "s0098", "s0097", "s0096"]
    assert len(tail.latest) == 5 and len(tail.latest_failed) == 5


def test_reads_only_complete_lines_and_starts_over_for_a_new_run(tmp_path: Path):
    journal = RunJournal(tmp_path / "one")
    journal.append(record(1, Outcome.GOAL_REACHED))
    journal.close()
    path = tmp_path / "one" / JOURNAL_NAME
    line = record(2, Outcome.ERROR, error=ErrorKind.HTTP_STATUS).to_json() + b"\n"
    with path.open("ab") as out:
        out.write(line[:40])  # a line being written
    tail = TranscriptTail()
    tail.follow(tmp_path / "one")
    assert [r.session_id for r in tail.records()] == ["s0001"]
    with path.open("ab") as out:
        out.write(line[40:])
    tail.follow(tmp_path / "one")
    assert [r.session_id for r in tail.records()] == ["s0002", "s0001"]

    other = RunJournal(tmp_path / "two")
    other.append(record(3, Outcome.GOAL_REACHED))
    other.close()
    tail.follow(tmp_path / "two")
    assert [r.session_id for r in tail.records()] == ["s0003"]


def test_filter_and_rows():
    records = [
        record(1, Outcome.GOAL_REACHED),
        record(2, Outcome.ERROR, "Talliz", error=ErrorKind.HTTP_STATUS),
        record(3, Outcome.MAX_ITERATIONS, "Talliz"),
    ]
    ids = lambda found: [r.session_id for r in found]  # noqa: E731
    assert ids(select(records, outcome="failed")) == ["s0002", "s0003"]
    assert ids(select(records, outcome="error")) == ["s0002"]
    assert ids(select(records, persona="Edman")) == ["s0001"]
    assert ids(select(records, text="ANSWERED 503")) == ["s0002"]
    assert ids(select(records, text="message 2 of 3")) == ["s0003"]
    assert ids(select(records, outcome="goal_reached", persona="Talliz")) == []

    row = transcript_rows([records[1]])[0]
    assert row["outcome"] == "error" and row["persona"] == "Talliz"
    assert row["reason"] == "http_status 503: the agent answered 503"
    assert row["transcript"].endswith("#3 user: message 3 of 2 / error http_status: the agent answered 503")
    assert row["session"] == "s0002" and row["turns"] == 3


def test_numbers_per_persona_from_the_aggregator():
    aggregator = Aggregator()
    for r in [
        record(1, Outcome.GOAL_REACHED),
        record(2, Outcome.GOAL_REACHED),
        record(3, Outcome.ERROR, error=ErrorKind.HTTP_STATUS),
        record(4, Outcome.ERROR, "Talliz", error=ErrorKind.TIMEOUT),
    ]:
        aggregator.add(r)
    rows = {row["persona"]: row for row in numbers_rows(aggregator)}
    assert list(rows) == ["Edman", "Talliz", "all personas"]
    assert rows["Edman"] == {
        "persona": "Edman",
        "conversations": 3,
        "goal_reached": 2,
        "goal_rate": "66.7%",
        "turns_to_goal": "3.00",
        "outcomes": "goal_reached 2, error 1",
        "errors": "http_status 1",
    }
    assert rows["Talliz"]["goal_rate"] == "0.0%" and rows["Talliz"]["turns_to_goal"] == "-"
    assert rows["all personas"]["conversations"] == 4
    assert rows["all personas"]["errors"] in ("http_status 1, timeout 1", "timeout 1, http_status 1")
