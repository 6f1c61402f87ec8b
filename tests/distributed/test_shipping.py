"""A worker's journal reaches its master whole and exactly once: whole lines, at most a cap per
shipment, a repeat trimmed, a gap logged; the master writes the lines as a single process would."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import zlib
from pathlib import Path

import gevent
import pytest

from convoload.envsecrets import secret_from_env
from convoload.load.master_records import MasterRecords
from convoload.load.shipping import (
    JournalLedger,
    JournalShipper,
    Shipment,
    ShipmentError,
    ShippingLane,
)
from convoload.model import ConversationRecord
from convoload.report.aggregate import aggregate
from convoload.store.journal import RunJournal, read_journal
from convoload.store.results import ResultsStore
from convoload.store.results.engine import StoreOrigin
from tests.store.scenario import Outcome, conversation


def records(n: int, start: int = 1, run_id: str = "run") -> list[ConversationRecord]:
    outcomes = (Outcome.GOAL_REACHED, Outcome.MAX_ITERATIONS, Outcome.INTERRUPTED)
    return [
        conversation(run_id, f"s-{i}", ("Ana", "Bo")[i % 2], [10.0 * i, 20.0], outcomes[i % 3], 30.0, 0.01)
        for i in range(start, start + n)
    ]


def journal_of(tmp_path: Path, batch: list[ConversationRecord]) -> Path:
    journal = RunJournal(tmp_path / "worker")
    for record in batch:
        journal.append(record)
    journal.close()
    return journal.path


def ship_all(shipper: JournalShipper) -> list[Shipment]:
    shipments = []
    while (shipment := shipper.take()) is not None:
        shipments.append(shipment)
    return shipments


def test_only_whole_lines_are_shipped_and_a_line_being_written_waits(tmp_path: Path) -> None:
    path = journal_of(tmp_path, records(3))
    whole = path.read_bytes()
    with path.open("ab") as handle:
        handle.write(b'{"summary": {"half')  # a line still being written (or torn by a kill)
    shipper = JournalShipper(path)
    [shipment] = ship_all(shipper)
    assert (shipment.start, shipment.end) == (0, len(whole))
    assert shipment.lines() == whole and len(shipment.data) < len(whole)  # compressed
    assert shipper.take() is None  # the half line stays in the file
    with path.open("ab") as handle:
        handle.write(b' line"}}\n')
    [rest] = ship_all(shipper)
    assert (rest.start, rest.lines()) == (len(whole), b'{"summary": {"half line"}}\n')


def test_a_shipment_holds_at_most_the_cap_and_a_longer_line_goes_whole(tmp_path: Path) -> None:
    batch = records(40)
    path = journal_of(tmp_path, batch)
    lines = path.read_bytes().splitlines(keepends=True)
    cap = 3 * max(len(line) for line in lines)
    shipments = ship_all(JournalShipper(path, cap=cap))
    assert len(shipments) > 5
    assert all(s.end - s.start <= cap for s in shipments)
    assert b"".join(s.lines() for s in shipments) == path.read_bytes()  # contiguous, nothing twice
    assert [s.start for s in shipments[1:]] == [s.end for s in shipments[:-1]]

    tiny = ship_all(JournalShipper(path, cap=len(lines[0]) // 3))  # every line longer than the cap
    assert [s.lines() for s in tiny] == lines


def test_a_repeated_or_overlapping_shipment_is_trimmed_to_what_is_new(tmp_path: Path) -> None:
    path = journal_of(tmp_path, records(12))
    first = ship_all(JournalShipper(path, cap=2000))
    ledger = JournalLedger("worker 0")
    got = b"".join(ledger.accept(s) for s in first[:3])
    assert ledger.accept(first[1]) == b""  # a repeat adds nothing
    # A shipper that starts again from the start (a worker process resent its journal) overlaps.
    again = ship_all(JournalShipper(path, cap=5 * 2000))
    got += b"".join(ledger.accept(s) for s in again)
    assert got == path.read_bytes()  # every line exactly once
    assert ledger.have == len(got) and not ledger.gaps
    assert ledger.repeated_bytes == (first[1].end - first[1].start) + first[2].end


def test_a_gap_is_logged_and_the_lines_after_it_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = journal_of(tmp_path, records(6))
    shipments = ship_all(JournalShipper(path, cap=1500))
    assert len(shipments) >= 3
    ledger = JournalLedger("worker 3")
    ledger.accept(shipments[0])
    with caplog.at_level(logging.ERROR):
        kept = ledger.accept(shipments[2])  # shipments[1] never came
    assert kept == shipments[2].lines()
    assert ledger.gaps == [(shipments[1].start, shipments[1].end)]
    assert f"worker 3: journal bytes {shipments[1].start}-{shipments[1].end} never arrived" in caplog.text


def test_a_shipment_that_is_not_what_it_says_is_refused(tmp_path: Path) -> None:
    path = journal_of(tmp_path, records(2))
    [good] = ship_all(JournalShipper(path))
    bomb = zlib.compress(b"\n" * (50 << 20))  # 50 MiB of newlines in 50 KB
    for bad in (
        Shipment(good.start, good.end + 1, good.data),  # says more than it holds
        Shipment(0, 10, bomb),  # decompresses to far more than 10 bytes: stops at 11
        Shipment(0, 5, b"not zlib"),
        Shipment(0, 4, zlib.compress(b"half")),  # not whole lines
    ):
        with pytest.raises(ShipmentError):
            JournalLedger("w").accept(bad)
    for message in (
        {"start": 5, "end": 5, "data": b""},
        {"start": 0, "end": 1},
        None,
        {"start": "0", "end": 1, "data": b""},
    ):
        with pytest.raises(ShipmentError):
            Shipment.from_message(message)
    assert Shipment.from_message(good.message()) == good


def test_the_lane_keeps_at_most_a_window_unacknowledged_and_flush_waits_for_the_rest(tmp_path: Path) -> None:
    path = journal_of(tmp_path, records(30))
    size = path.stat().st_size
    sent: list[Shipment] = []
    shipper = JournalShipper(path, cap=size // 10)
    lane = ShippingLane(
        shipper, lambda message: sent.append(Shipment.from_message(message)), window=size // 4
    )
    assert lane.ship() is False  # the window is full before the journal is shipped
    assert 0 < sent[-1].end <= size // 4 + size // 10 and lane.in_flight == sent[-1].end
    ledger = JournalLedger("worker 0")

    def master() -> None:  # acknowledges what it has, as the master does after each shipment
        while ledger.have < size:
            while sent:
                ledger.accept(sent.pop(0))
                lane.acknowledged(ledger.have)
            gevent.sleep(0)

    acknowledging = gevent.spawn(master)
    assert lane.flush(patience_s=30) is True
    acknowledging.join(timeout=30)
    assert ledger.have == size == lane.acked and lane.in_flight == 0


def test_flush_gives_up_when_the_master_stops_acknowledging(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = journal_of(tmp_path, records(3))
    sent: list[dict] = []
    lane = ShippingLane(JournalShipper(path), sent.append)
    with caplog.at_level(logging.ERROR):
        assert lane.flush(patience_s=0.05) is False
    assert len(sent) == 1 and lane.in_flight == path.stat().st_size
    assert "acknowledged no journal lines" in caplog.text


def test_a_send_that_fails_leaves_its_lines_to_be_taken_again(tmp_path: Path) -> None:
    path = journal_of(tmp_path, records(3))
    calls: list[dict] = []

    def send(message: dict) -> None:
        calls.append(message)
        if len(calls) == 1:
            raise ConnectionError("the master went away")

    lane = ShippingLane(JournalShipper(path), send)
    with pytest.raises(ConnectionError):
        lane.ship()
    assert lane.shipper.offset == 0
    assert lane.ship() is True and calls[1]["start"] == 0 and calls[1]["end"] == path.stat().st_size


def test_the_master_writes_the_workers_lines_as_a_single_process_writes_its_own(tmp_path: Path) -> None:
    ours, theirs = records(5, start=1, run_id="dist"), records(4, start=6, run_id="dist")
    ledgers = []
    db = tmp_path / "results.sqlite"
    master = MasterRecords(
        tmp_path / "dist",
        "dist",
        {"run_id": "dist", "status": "running"},
        (f"sqlite:///{db}", StoreOrigin("t")),
    )
    for k, batch in enumerate((ours, theirs)):
        path = journal_of(tmp_path / f"w{k}", batch)
        ledger = JournalLedger(f"worker {k}")
        for shipment in ship_all(JournalShipper(path, cap=700)):
            master.add_lines(ledger.accept(shipment), ledger.source)
        ledgers.append((path, ledger))
    assert master.count == 9
    meta = {"run_id": "dist", "plan": {"conversations": 9}, "status": "ended"}
    report = master.finish(meta)
    master.close()

    run_dir = tmp_path / "dist"
    every = ours + theirs
    # The journal: each worker's lines as they were, one conversation file each, the report page.
    assert (run_dir / "journal.jsonl").read_bytes() == b"".join(p.read_bytes() for p, _ in ledgers)
    assert sorted(p.name for p in (run_dir / "conversations").iterdir()) == sorted(
        f"conversation_{r.user_id:05d}_{r.session_id}.json" for r in every
    )
    assert "s-9" in (run_dir / "report.html").read_text(encoding="utf-8")
    # The aggregate: the one a single process builds from the same records.
    written = json.loads((run_dir / "aggregate.json").read_text(encoding="utf-8"))
    single = aggregate(read_journal(run_dir / "journal.jsonl"), meta)
    assert written["summary"]["total_conversations"] == 9 == report.summary.total_conversations
    for key in ("outcomes", "total_turns", "interrupted_conversations", "successful_conversations"):
        assert written["summary"][key] == single["summary"][key]
    assert written["latency"] == single["latency"] and written["requests"] == single["requests"]
    assert written["run"]["status"] == "interrupted"  # 3 were interrupted
    # The store: the run's row, finished and graded, with every conversation.
    with ResultsStore(f"sqlite:///{db}", create=False) as store:
        row = store.get_run("dist")
        assert row.status == "interrupted" and row.summary["total_conversations"] == 9
        assert sorted(r.session_id for r in store.conversations("dist")) == sorted(
            r.session_id for r in every
        )
        assert [g.grade for g in store.grades("dist")] == [written["assessment"]["grade"]]
    assert sqlite3.connect(db).execute("select count(*) from runs").fetchone() == (1,)


def test_the_master_refuses_lines_that_are_no_record_or_name_another_path(tmp_path: Path) -> None:
    master = MasterRecords(tmp_path / "run", "run", {"run_id": "run"})
    [evil] = records(1)
    evil.session_id = "../../escaped"
    lines = b"not json\n" + evil.to_json() + b"\n" + records(1)[0].to_json() + b"\n"
    assert master.add_lines(lines, "worker 0") == 1 and master.skipped == 2
    master.close()
    assert not (tmp_path / "escaped.json").exists()
    assert len(read_journal(tmp_path / "run" / "journal.jsonl")) == 1


def test_a_line_from_a_worker_is_redacted_on_the_master_too(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CONVOLOAD_T_SHIPPED", "shipped-s3cr3t-value")
    secret_from_env("CONVOLOAD_T_SHIPPED")  # now a known secret in this process
    [record] = records(1)
    record.turns[0].reply_text = "the key is shipped-s3cr3t-value"
    master = MasterRecords(tmp_path / "run", "run", {"run_id": "run"})
    master.add_lines(record.to_json() + b"\n", "worker 0")
    master.close()
    for path in (tmp_path / "run" / "journal.jsonl", *(tmp_path / "run" / "conversations").iterdir()):
        text = path.read_text(encoding="utf-8")
        assert "shipped-s3cr3t-value" not in text and "the key is" in text
    assert os.path.getsize(tmp_path / "run" / "journal.jsonl") > 0
