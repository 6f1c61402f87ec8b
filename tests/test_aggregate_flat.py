"""The aggregator in flat memory: numbers per conversation, the list of conversations from the journal."""

import csv
import gc
import json
import tracemalloc

import pytest

from convoload.report.aggregate import Aggregator, aggregate
from convoload.report.tables import CONVERSATIONS_CSV, write_aggregate_files, write_conversations_csv
from convoload.store.journal import JOURNAL_NAME, RunJournal, read_journal, write_json, write_json_streamed
from tests.distributed.test_merge import make_records
from tests.test_run import make_config, run


def test_an_aggregate_over_the_journal_is_the_one_over_records_in_memory(tmp_path):
    records = make_records(300)
    journal = RunJournal(tmp_path)
    flat = Aggregator(journal=tmp_path / JOURNAL_NAME)
    for i, record in enumerate(records):
        journal.append(record)
        flat.add(record)
        flat.add_llm_call("local/persona", latency_ms=10.0 + i / 7, cost_usd=1e-6 / 3)
    journal.close()
    in_memory = Aggregator()
    for i, record in enumerate(records):
        in_memory.add(record)
        in_memory.add_llm_call("local/persona", latency_ms=10.0 + i / 7, cost_usd=1e-6 / 3)

    assert flat.summaries is None  # nothing per conversation kept but numbers
    document = flat.document({"run_id": "r"})
    assert json.dumps(document) == json.dumps(in_memory.document({"run_id": "r"}))
    assert [c["session_id"] for c in document["conversations"]] == [r.session_id for r in records]


def test_a_torn_last_journal_line_is_skipped_as_a_rebuild_skips_it(tmp_path):
    records = make_records(5)
    journal = RunJournal(tmp_path)
    for record in records:
        journal.append(record)
    journal.close()
    with (tmp_path / JOURNAL_NAME).open("a") as handle:
        handle.write('{"run_id": "r", "sess')
    flat = Aggregator(journal=tmp_path / JOURNAL_NAME)
    assert (
        flat.document()["conversations"] == aggregate(read_journal(tmp_path / JOURNAL_NAME))["conversations"]
    )


@pytest.mark.e2e
def test_a_runs_recorded_aggregate_is_the_one_rebuilt_from_its_journal(tmp_path):
    context, _, _ = run(make_config(tmp_path))
    recorded = json.loads((context.run_dir / "aggregate.json").read_text())
    rebuilt = aggregate(read_journal(context.run_dir / JOURNAL_NAME), recorded["run"])
    assert len(recorded["conversations"]) == 6
    for key in ("summary", "latency", "requests", "personas", "findings", "conversations"):
        assert recorded[key] == json.loads(json.dumps(rebuilt[key])), key
    written = (context.run_dir / CONVERSATIONS_CSV).read_text()
    write_conversations_csv(tmp_path, rebuilt["conversations"])
    assert (tmp_path / CONVERSATIONS_CSV).read_text() == written
    assert len(list(csv.reader(written.splitlines()))) == 7


def test_retained_bytes_per_finished_conversation_are_bounded(tmp_path):
    records = make_records(3000, seed=11)
    # Every value lands twice: in the run's arrays and in its persona's.
    values = 0
    for record in records:
        for turn in record.turns:
            if turn.error is None and turn.latency_ms is not None:
                values += 1 + (turn.ack_ms is not None)  # turn_ms, webhook_ms
            values += turn.ack_ms is not None
        values += record.outcome != "interrupted"
    aggregator = Aggregator(journal=tmp_path / JOURNAL_NAME)
    aggregator.add(records[0])  # the personas' and counters' fixed state, before measuring
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for record in records[1:]:
            aggregator.add(record)
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert aggregator.run.conversations == 3000
    assert retained < 300 * 3000 + 8 * 2 * values, (retained, values)


@pytest.mark.parametrize(
    "document, items",
    [
        (
            {"run": {"id": "é\n"}, "conversations": [], "assessment": {"grade": "A", "r": []}},
            [{"a": [1, {"b": None}]}, {"ç": 1.5}],
        ),
        ({"conversations": []}, []),
        ({"summary": {}, "conversations": [], "tail": [[], {}]}, [{}]),
        ({}, []),
    ],
)
def test_the_streamed_aggregate_is_byte_for_byte_the_one_written_whole(tmp_path, document, items):
    whole = {**document, "conversations": items} if "conversations" in document else document
    write_json(tmp_path / "whole.json", whole)
    write_json_streamed(tmp_path / "streamed.json", document, "conversations", iter(items))
    assert (tmp_path / "streamed.json").read_bytes() == (tmp_path / "whole.json").read_bytes()


def test_a_runs_aggregate_files_are_written_without_its_list_of_conversations_in_memory(tmp_path):
    records = make_records(4000, seed=5)
    journal = RunJournal(tmp_path)
    aggregator = Aggregator(journal=tmp_path / JOURNAL_NAME)
    for record in records:
        journal.append(record)
        aggregator.add(record)
    journal.close()
    document = aggregator.document({"run_id": "r"}, conversations=False)
    gc.collect()
    tracemalloc.start()
    try:
        listed = list(aggregator.iter_conversations())
        held = tracemalloc.get_traced_memory()[0]
        del listed
        gc.collect()
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        write_aggregate_files(tmp_path, document, aggregator.iter_conversations)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert peak < held / 10, (peak, held)  # a line or so at a time, not the list
    written = json.loads((tmp_path / "aggregate.json").read_text())
    assert [c["session_id"] for c in written["conversations"]] == [r.session_id for r in records]
    assert written == {**document, "conversations": aggregate(records, {"run_id": "r"})["conversations"]}
    rows = list(csv.reader((tmp_path / CONVERSATIONS_CSV).read_text().splitlines()))
    assert [row[1] for row in rows[1:]] == [r.session_id for r in records]
