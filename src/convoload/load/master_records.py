"""A distributed run's records on its master: what a single process writes, from its workers' lines.

The workers ship their journal lines as they write them (load.shipping); the master writes each
line as it came into its own `journal.jsonl` (and `conversations/`, as RunJournal does), adds the
record to the run's aggregate as a single process adds its own, and queues it for the results store
(StoreWriter, the line's text reused). The run's row is started when the master starts, so a
database that cannot be opened stops the run before any worker joins; `finish` writes
`aggregate.json`, `run.json`, `conversations.csv` and `report.html` and finishes and grades the row.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from pydantic_core import from_json

from convoload.envsecrets import redact_value
from convoload.load.recorders import finish_run_in_store, open_run_store
from convoload.load.store_writer import StoreWriter
from convoload.model import ConversationRecord
from convoload.model.report import RunReport
from convoload.report.aggregate import Aggregator
from convoload.report.completion import completion
from convoload.report.grading import assess_report
from convoload.report.tables import write_aggregate_files
from convoload.store.journal import JOURNAL_NAME, META_NAME, RunJournal, write_json
from convoload.store.results import RawJSON
from convoload.store.results.engine import StoreOrigin

log = logging.getLogger(__name__)

# A session id names the conversation's file: a line from the network must not name another path.
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


class MasterRecords:
    def __init__(
        self,
        run_dir: Path,
        run_id: str,
        meta: dict[str, Any],
        store_url: tuple[str, StoreOrigin] | None = None,
    ) -> None:
        """Open the store (the run's row from `meta`), then the run folder (run.json = `meta`)."""
        self.run_dir = Path(run_dir)
        self.run_id = run_id
        # Numbers only: the aggregate's list of conversations is read back from the journal.
        self.aggregator = Aggregator(journal=self.run_dir / JOURNAL_NAME)
        self.count = 0  # conversations recorded
        self.listeners: list[Callable[[ConversationRecord], None]] = []  # told of each record added
        self.skipped = 0  # lines that were no conversation record
        self._graded = False
        self._stack = ExitStack()
        try:  # the database first: one that cannot be opened leaves no run folder behind
            self.store = open_run_store(store_url, run_id, meta) if store_url is not None else None
            if self.store is not None:
                self._stack.callback(self.store.close)
            self.journal = RunJournal(self.run_dir, meta=meta)
            self._stack.callback(self.journal.close)
            self.store_writer = StoreWriter(self.store, run_id) if self.store is not None else None
            if self.store_writer is not None:  # closed (its last rows written) before the store
                self._stack.callback(self.store_writer.close)
        except BaseException:
            self._stack.close()
            raise

    def add_lines(self, lines: bytes, source: str) -> int:
        """Record a worker's whole journal lines (`source` names it in the log); returns how many
        conversations they held."""
        added = 0
        for line in lines.split(b"\n"):
            if not line.strip():
                continue
            try:
                record = ConversationRecord.from_document(from_json(line))
            except (ValueError, KeyError, TypeError):
                self.skipped += 1
                log.warning("%s: skipping a journal line that is no conversation record", source)
                continue
            if not _SESSION_ID.fullmatch(record.session_id):
                self.skipped += 1
                log.warning("%s: skipping a conversation with session id %r", source, record.session_id[:80])
                continue
            written = self.journal.append_line(line, record)  # first: the journal is the record of truth
            self.aggregator.add(record)
            for listener in self.listeners:
                try:
                    listener(record)
                except Exception:  # an observer never stops the records
                    log.exception("%s: a record listener failed", source)
            if self.store_writer is not None:
                self.store_writer.add(record, RawJSON(written[:-1].decode()))
            added += 1
        self.count += added
        return added

    def finish(
        self, meta: dict[str, Any], *, html: bool = True, lost_with_worker: int | None = None
    ) -> RunReport:
        """The run's aggregate with `meta` (run.json as the run ended), graded, written with run.json,
        conversations.csv, `html` report.html, and into the store. May run more than once.

        `lost_with_worker`: conversations in flight on workers the run lost (None: it lost none); the
        summary counts them apart, and the run is incomplete."""
        document = self.aggregator.document(meta, conversations=False)
        if lost_with_worker is not None:
            summary = document["summary"]
            summary.pop("completion")
            summary["lost_with_worker"] = lost_with_worker
            summary["completion"] = completion(meta, summary)
        if meta.get("llm"):  # an LLM chain ran: its sections are said even when no call was made
            for key in ("by_provider", "fallbacks", "errors"):
                document["summary"]["llm"].setdefault(key, {})
        report = RunReport.from_document(document, run_dir=self.run_dir)
        ended_well = report.complete and not report.summary.interrupted_conversations
        report.run.status = meta["status"] = "finished" if ended_well else "interrupted"
        report.assessment = assess_report(report)
        document = report.to_document()
        if self.store is not None:
            if self.store_writer is not None:
                self.store_writer.flush()  # the run's row is finished after its conversations
            graded = finish_run_in_store(
                self.store, self.run_id, redact_value(document), grade=not self._graded
            )
            self._graded |= graded
        self.run_dir.mkdir(parents=True, exist_ok=True)
        write_json(self.run_dir / META_NAME, meta)
        write_aggregate_files(self.run_dir, document, self.aggregator.iter_conversations)
        if html:
            from convoload.report.html import write_html_report

            write_html_report(self.run_dir, document)
        return report

    def close(self) -> None:
        """The store writer's last rows, the journal, then the store."""
        self._stack.close()
