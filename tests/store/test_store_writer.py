"""Finished conversations reach the results store in batches: all of them, in order, with their text."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import gevent
import pytest
from gevent.event import Event
from pydantic_core import to_json

from convoload.load.store_writer import StoreWriter
from convoload.model import Finding
from convoload.store.journal import RunJournal
from convoload.store.results import RawJSON, ResultsStore
from tests.store.scenario import Outcome, conversation


class CountingStore(ResultsStore):
    """A real store that also remembers the size of each batch it was given."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.batches: list[int] = []

    def add_conversations(self, run_id, batch):  # type: ignore[no-untyped-def]
        self.batches.append(len(batch))
        super().add_conversations(run_id, batch)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "results.sqlite"


def records(n: int, run_id: str = "run"):
    out = []
    for i in range(1, n + 1):
        record = conversation(run_id, f"s-{i}", "Buyer", [10.0 * i, 20.0], Outcome.GOAL_REACHED, 30, 0.01)
        if i % 3 == 0:
            record.findings.append(
                Finding(
                    hook="slow",
                    priority="quality",
                    session_id=record.session_id,
                    persona="Buyer",
                    message="m",
                )
            )
        out.append(record)
    return out


def test_a_batch_keeps_each_conversation_with_its_own_turns_and_findings(db: Path) -> None:
    batch = records(7)
    with ResultsStore(f"sqlite:///{db}") as store:
        store.start_run("run", {})
        store.add_conversations("run", [(r, None) for r in batch])
        stored = store.conversations("run")
        assert [r.session_id for r in stored] == [r.session_id for r in batch]
        assert [r.to_document() for r in stored] == [r.to_document() for r in batch]
        assert len(store.findings("run")) == 2
    with sqlite3.connect(db) as conn:  # each turn row points at its own conversation
        rows = conn.execute(
            "SELECT c.session_id, t.iteration, t.latency_ms FROM turns t JOIN conversations c "
            "ON c.id = t.conversation_id ORDER BY c.id, t.iteration"
        ).fetchall()
    assert rows == [(r.session_id, t.iteration, t.latency_ms) for r in batch for t in r.turns]


def test_a_document_already_serialised_is_stored_as_it_is(db: Path) -> None:
    (record,) = records(1)
    text = to_json(record.to_document()).decode()
    with ResultsStore(f"sqlite:///{db}") as store:
        store.start_run("run", {})
        store.add_conversations("run", [(record, RawJSON(text))])
        (stored,) = store.conversations("run")
    assert stored.to_document() == record.to_document()
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT document FROM conversations").fetchone()[0] == text  # not encoded twice


def test_the_writer_writes_in_slices_and_everything_by_close(db: Path) -> None:
    store = CountingStore(f"sqlite:///{db}")
    store.start_run("run", {})
    writer = StoreWriter(store, "run", interval_s=3600, max_batch=4)
    batch = records(10)
    for record in batch:
        writer.add(record)
    writer.close()
    assert max(store.batches) <= 4 and sum(store.batches) == 10
    assert writer.written == 10 and writer.pending == 0 and writer.dropped == 0
    assert [r.session_id for r in store.conversations("run")] == [r.session_id for r in batch]
    with pytest.raises(ValueError):
        writer.add(batch[0])
    store.close()


def test_a_writer_behind_writes_larger_slices_of_at_most_four_batches(db: Path) -> None:
    store = CountingStore(f"sqlite:///{db}")
    store.start_run("run", {})
    writer = StoreWriter(store, "run", interval_s=3600, max_batch=2)
    for record in records(100):
        writer.add(record)
    writer.close()
    # A tenth of the backlog, between max_batch and 4 x max_batch: 8 while over 80 wait, then less.
    assert store.batches[0] == 8 and store.batches[-1] <= 2 and sum(store.batches) == 100
    assert store.batches == sorted(store.batches, reverse=True)
    store.close()


def test_a_failing_database_is_retried_then_given_up_without_stopping_the_run(db: Path, caplog) -> None:
    store = ResultsStore(f"sqlite:///{db}")
    store.start_run("run", {})
    writer = StoreWriter(store, "run", interval_s=3600, max_batch=10, max_attempts=2)
    first, second = records(2)
    with sqlite3.connect(db) as conn:
        conn.execute("ALTER TABLE turns RENAME TO turns_away")  # every insert now fails in SQLite itself
    writer.add(first)
    writer.flush()
    assert writer.pending == 1 and writer.written == 0  # kept for the next attempt
    with sqlite3.connect(db) as conn:
        conn.execute("ALTER TABLE turns_away RENAME TO turns")
    writer.flush()
    assert writer.pending == 0 and writer.written == 1

    with sqlite3.connect(db) as conn:
        conn.execute("ALTER TABLE turns RENAME TO turns_away")
    writer.add(second)
    with caplog.at_level(logging.ERROR, logger="convoload.load.store_writer"):
        writer.close()  # the last attempts fail too: logged, dropped, and close still returns
    assert writer.dropped == 1 and writer.written == 1
    assert "they are in its journal" in caplog.text
    with sqlite3.connect(db) as conn:
        conn.execute("ALTER TABLE turns_away RENAME TO turns")
    assert [r.session_id for r in store.conversations("run")] == [first.session_id]
    store.close()


def test_the_journal_writes_each_conversation_file_by_close(tmp_path: Path) -> None:
    journal = RunJournal(tmp_path / "run")
    batch = records(25)
    lines = [journal.append(r) for r in batch]
    journal.close()
    for record, line in zip(batch, lines, strict=True):
        path = (
            tmp_path / "run" / "conversations" / f"conversation_{record.user_id:05d}_{record.session_id}.json"
        )
        assert path.read_bytes() == line
        assert json.loads(line) == record.to_document()
    assert (tmp_path / "run" / "journal.jsonl").read_bytes() == b"".join(lines)
    assert not list((tmp_path / "run" / "conversations").glob("*.tmp"))


def test_a_conversation_file_that_cannot_be_written_loses_nothing_from_the_journal(
    tmp_path: Path, caplog
) -> None:
    journal = RunJournal(tmp_path / "run")
    (tmp_path / "run" / "conversations").rmdir()  # the copies can no longer be written
    batch = records(3)
    with caplog.at_level(logging.ERROR, logger="convoload.store.journal"):
        for record in batch:
            journal.append(record)
        journal.close()
    assert caplog.text.count("could not write") == 3
    lines = (tmp_path / "run" / "journal.jsonl").read_text().splitlines()
    assert [json.loads(line)["summary"]["session_id"] for line in lines] == [r.session_id for r in batch]


def test_report_finds_a_distributed_workers_database_one_folder_up(tmp_path: Path) -> None:
    from convoload.report.rebuild import rebuild_run, restore_store

    runs = tmp_path / "runs"
    run_dir = runs / "abc" / "worker-1"  # a worker's records; its database is runs/results.sqlite
    batch = records(4, run_id="abc-w1")
    journal = RunJournal(run_dir, meta={"run_id": "abc-w1"})
    for record in batch:
        journal.append(record)
    journal.close()
    with ResultsStore(f"sqlite:///{runs / 'results.sqlite'}") as store:
        store.start_run("abc-w1", {})
        store.add_conversations("abc-w1", [(batch[0], None)])  # the kill came before the rest
    document = rebuild_run(run_dir)
    assert restore_store(run_dir, document) == 3
    assert restore_store(run_dir, document) == 0  # nothing twice
    with ResultsStore(f"sqlite:///{runs / 'results.sqlite'}") as store:
        assert [r.session_id for r in store.conversations("abc-w1")] == [r.session_id for r in batch]
        assert store.get_run("abc-w1").status == "interrupted"


def test_a_load_runs_store_checkpoints_its_log_from_a_thread_not_in_commits(db: Path) -> None:
    with ResultsStore(f"sqlite:///{db}") as plain, plain.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000  # SQLite's own
    store = ResultsStore(f"sqlite:///{db}", background_checkpoints=True)
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0  # never inside a commit
    store.start_run("run", {})
    store.add_conversations("run", [(r, None) for r in records(30)])
    wal = db.with_name(db.name + "-wal")
    assert wal.stat().st_size > 0
    checkpointer = store._checkpointer
    assert checkpointer is not None
    checkpointer.close()  # the last checkpoint moves the whole log into the database
    assert checkpointer.checkpoints >= 1 and wal.stat().st_size == 0
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM conversations").fetchone()[0] == 30
    store.close()


def test_a_backlog_is_written_in_a_process_that_is_never_idle(db: Path) -> None:
    """Under saturation the loop never goes idle: the queue must still drain, not grow for the whole run."""
    caught_up = Event()

    class WatchedStore(CountingStore):
        def add_conversations(self, run_id, batch):  # type: ignore[no-untyped-def]
            super().add_conversations(run_id, batch)
            if sum(self.batches) >= 16:
                caught_up.set()

    store = WatchedStore(f"sqlite:///{db}")
    store.start_run("run", {})
    writer = StoreWriter(store, "run", interval_s=0.01, max_batch=2, max_backlog=4)
    busy = True

    def saturate() -> None:  # always something to run: the loop's idle watchers never fire
        while busy:
            gevent.sleep(0)

    spinner = gevent.spawn(saturate)
    try:
        for record in records(20):
            writer.add(record)
        assert caught_up.wait(timeout=30)  # while the loop is still saturated
        assert spinner and not spinner.dead
    finally:
        busy = False
        spinner.join()
    writer.close()
    assert writer.written == 20 and writer.pending == 0
    store.close()
