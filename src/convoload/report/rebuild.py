"""Rebuild a run's files from its journal (after a crash, or to refresh reports)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from convoload.errors import ConfigError
from convoload.model.report import RunReport
from convoload.report.aggregate import JUDGE_ROLE, Aggregator, journal_records
from convoload.report.grading import assess_report
from convoload.report.tables import write_aggregate_files
from convoload.store.journal import (
    CONVERSATIONS_DIR,
    JOURNAL_NAME,
    META_NAME,
    read_journal,
    write_json,
)
from convoload.store.judgements import read_judgement_summary

if TYPE_CHECKING:
    from convoload.model import ConversationRecord
    from convoload.store.results import ResultsStore

_BATCH = 200  # conversations per transaction when a whole run goes into the store


def rebuild_run(run_dir: Path) -> dict[str, Any]:
    """Write aggregate.json, conversations.csv and missing conversation files again from the journal;
    returns the aggregate written."""
    run_dir = Path(run_dir)
    journal = run_dir / JOURNAL_NAME
    if not journal.is_file():
        raise ConfigError(str(run_dir), "", f"no {JOURNAL_NAME} here: not a convoload run folder")
    meta: dict[str, Any] = {}
    meta_path = run_dir / META_NAME
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except ValueError:
            meta = {}
    meta["rebuilt_from_journal"] = True
    conversations = run_dir / CONVERSATIONS_DIR
    conversations.mkdir(exist_ok=True)
    aggregator = Aggregator(journal=journal)  # a journal of any length: one line in memory at a time
    for record in journal_records(journal):
        name = f"conversation_{record.user_id:05d}_{record.session_id}.json"
        if not (conversations / name).is_file():
            write_json(conversations / name, record.to_document())
        aggregator.add(record)
    judgement = read_judgement_summary(run_dir)
    if judgement is not None:  # the judge's calls are not in the journal: its cost is in its summary
        aggregator.add_llm_call("judge", latency_ms=0.0, cost_usd=judgement.usage.cost_usd, role=JUDGE_ROLE)
    report = RunReport.from_document(aggregator.document(meta, conversations=False), run_dir=run_dir)
    if report.run.status == "running":  # killed: it never got to say how it ended
        report.run.status = "interrupted"
    report.assessment = assess_report(report)
    if judgement is not None:  # a judged run stays judged (an unjudged aggregate has no such key)
        report.judgement = judgement
    document = report.to_document()
    write_aggregate_files(run_dir, document, aggregator.iter_conversations)
    return document


def restore_store(
    run_dir: Path, report: RunReport | Mapping[str, Any], url: str | None = None, *, create: bool = False
) -> int | None:
    """Complete the results database from the journal (see ResultsStore.restore_from_journal).

    `url` defaults to $CONVOLOAD_DB_URL, else the database of the run's runs folder (resolve_store_url):
    the folder holding the run's, or one level up for a distributed worker's (runs/<id>/worker-<k>)
    and a pipeline's (runs/pipeline-<id>/<run>; older pipelines kept theirs in runs/pipeline-<id>).
    `create`: when no database has the run, add it whole to the first database found (a merged
    distributed run whose master died before its row was written). Returns the number of
    conversations put back; None when no database has the run (and none was found to add it to).
    """
    from convoload.store.results import ResultsStore
    from convoload.store.results.engine import (
        MissingDatabase,
        StoreOrigin,
        default_store_url,
        resolve_store_url,
    )

    run_dir = Path(run_dir).resolve()
    default = StoreOrigin("(runs folder)")
    chosen = resolve_store_url(url, StoreOrigin("--db"), runs_dir=run_dir.parent, default_origin=default)
    if chosen[1] is default:
        candidates = [default_store_url(folder) for folder in run_dir.parents[:2]]
        urls = [(candidate, StoreOrigin(candidate)) for candidate in candidates]
    else:
        urls = [chosen]
    report = RunReport.of(report)
    run_id = report.run_id or run_dir.name
    summary = report.summary.to_document()
    records = read_journal(run_dir / JOURNAL_NAME)
    found: tuple[str, StoreOrigin] | None = None
    for candidate, where in urls:
        try:
            store = ResultsStore(candidate, create=False, origin=where)
        except MissingDatabase:  # no database file there; any other problem with a URL is an error
            continue
        with store:
            restored = store.restore_from_journal(run_id, records, summary)
        if restored is not None:
            return restored
        found = found or (candidate, where)
    if create and found is not None:
        with ResultsStore(found[0], create=False, origin=found[1]) as store:
            _add_run(store, run_id, report, records)
        return len(records)
    return None


def _add_run(store: ResultsStore, run_id: str, report: RunReport, records: list[ConversationRecord]) -> None:
    """The whole run into a database that lacks it: its row, conversations, end and grade (as a run
    that recorded itself would have left them, see load.recorders)."""
    store.start_run(run_id, report.run.to_document(), started_at=report.run.started_at)
    for start in range(0, len(records), _BATCH):
        store.add_conversations(run_id, [(record, None) for record in records[start : start + _BATCH]])
    store.finish_from_aggregate(run_id, report.to_document())
