"""RunRecorders: what records a run, from the event bus to the files and the results store.

Each finished conversation goes, in this order: through the hooks (their findings onto the record),
into the journal (the record of truth, written first), the aggregator (numbers only) and the
results store (in batches, by a StoreWriter). `aggregate()` then writes aggregate.json, the final
run.json and conversations.csv, and finishes and grades the run in the store.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any, TypeVar

from sqlalchemy.exc import OperationalError

from convoload.envsecrets import redact_value
from convoload.events import ConversationFinished, EventBus, LLMCalled, LLMError, LLMFallback
from convoload.hooks.base import HookRunner
from convoload.load.run_spec import RunSpec
from convoload.load.snapshot import write_snapshot
from convoload.load.store_writer import StoreWriter
from convoload.model.judgement import JudgementSummary
from convoload.report.aggregate import Aggregator
from convoload.report.grading import assess
from convoload.report.tables import write_aggregate_files
from convoload.store.journal import JOURNAL_NAME, META_NAME, RunJournal, write_json
from convoload.store.judgements import annotate_conversation_files, iter_judgements
from convoload.store.results import RawJSON, ResultsStore
from convoload.store.results.engine import StoreOrigin

_STORE_BUSY_RETRIES = 8
T = TypeVar("T")
log = logging.getLogger(__name__)


def _when_not_busy(action: Callable[[], T]) -> T:
    """Run a results-store action, again when SQLite says another process holds its lock.

    Workers of a distributed run on one machine open (and migrate) the same SQLite file at the
    same moment; SQLite answers one of two transactions that read, then write, with "database is
    locked" at once rather than after its busy timeout. Waiting a little and retrying resolves it.
    """
    for attempt in range(_STORE_BUSY_RETRIES):
        try:
            return action()
        except OperationalError as exc:
            if "locked" not in str(exc) or attempt == _STORE_BUSY_RETRIES - 1:
                raise
            time.sleep(random.uniform(0.02, 0.1) * 2**attempt)  # cooperative under gevent
    raise AssertionError("unreachable")


class RunRecorders:
    def __init__(self, spec: RunSpec, bus: EventBus, meta: dict[str, Any]) -> None:
        """Open the store (its run row from `meta`), then the run folder (run.json = `meta`), and
        subscribe to `bus`. On a Locust worker the aggregator keeps the entries its master merges."""
        self.run_id = spec.run_id
        self.run_dir = spec.run_dir
        # Numbers only: the aggregate's list of conversations is read back from the journal.
        self.aggregator = Aggregator(
            journal=spec.run_dir / JOURNAL_NAME, record_entries=spec.placement is not None
        )
        self._graded = False
        self._judged = False
        self._stack = ExitStack()
        try:  # the database first: one that cannot be opened leaves no run folder behind
            self.store = self._open_store(spec.store_url, meta)
            self.journal = RunJournal(spec.run_dir, meta=meta)
            self._stack.callback(self.journal.close)
            write_snapshot(spec)  # settings.json: what `convoload rerun` plays again
            self.store_writer = StoreWriter(self.store, self.run_id) if self.store is not None else None
            if self.store_writer is not None:  # closed (its last rows written) before the store
                self._stack.callback(self.store_writer.close)
        except BaseException:
            self._stack.close()
            raise
        # Hooks first: their findings must be on a record before it is journaled.
        self.hooks = HookRunner(bus, list(spec.hooks))
        bus.subscribe(ConversationFinished, self._on_finished)
        bus.subscribe(LLMCalled, self._on_llm_call)
        bus.subscribe(
            LLMFallback,
            lambda e: self.aggregator.add_llm_fallback(f"{e.from_provider} -> {e.to_provider} ({e.reason})"),
        )
        bus.subscribe(LLMError, lambda e: self.aggregator.add_llm_error(e.provider, e.kind))

    def _open_store(self, where: tuple[str, StoreOrigin] | None, meta: dict[str, Any]) -> ResultsStore | None:
        if where is None:
            return None
        store = open_run_store(where, self.run_id, meta)
        self._stack.callback(store.close)
        return store

    def _on_finished(self, event: ConversationFinished) -> None:
        line = self.journal.append(event.record)  # first: the journal is the record of truth
        self.aggregator.add(event.record)
        if self.store_writer is not None:
            self.store_writer.add(event.record, RawJSON(line[:-1].decode()))

    def _on_llm_call(self, event: LLMCalled) -> None:
        self.aggregator.add_llm_call(
            f"{event.provider}/{event.model}",
            latency_ms=event.latency_ms,
            from_cache=event.from_cache,
            prompt_tokens=event.prompt_tokens,
            completion_tokens=event.completion_tokens,
            cached_tokens=event.cached_tokens,
            cost_usd=event.cost_usd,
            attempts=event.attempts,
            role=event.role,
        )

    def aggregate(
        self, meta: dict[str, Any], *, llm: bool, judgement: JudgementSummary | None = None
    ) -> dict[str, Any]:
        """The run's aggregate with `meta` (run.json as the run ended), graded, redacted, written to
        the run folder and the store. `llm`: the run had an LLM chain (its sections are said even
        when no call was made). May run more than once (Locust's test_stop, then quitting).

        The document returned leaves its list of conversations empty: the files have it, streamed
        from the journal."""
        document = self.aggregator.document(meta, conversations=False)
        summary = document["summary"]
        ended_well = summary["completion"]["complete"] and not summary["interrupted_conversations"]
        document["run"]["status"] = "finished" if ended_well else "interrupted"
        document["assessment"] = assess(document)
        if judgement is not None:  # judge.enabled: the run's conversations, judged once all finished
            document["judgement"] = judgement.model_dump(mode="json")
            self._judged = True
        # Built from redacted records; this catches the rest (the target's URL, LLM errors) for the
        # store, the files and the terminal alike.
        document = redact_value(document)
        if self.store is not None:
            self._finish_in_store(document)
        if llm:
            document["summary"]["llm"].setdefault("by_provider", {})
            document["summary"]["llm"].setdefault("fallbacks", {})
            document["summary"]["llm"].setdefault("errors", {})
        write_aggregate_files(self.run_dir, document, self.aggregator.iter_conversations)
        write_json(self.run_dir / META_NAME, document["run"])  # how the run ended, for `convoload report`
        return document

    def _finish_in_store(self, document: dict[str, Any]) -> None:
        assert self.store is not None
        if self.store_writer is not None:
            self.store_writer.flush()  # the run's row is finished after its conversations
        self._graded |= finish_run_in_store(self.store, self.run_id, document, grade=not self._graded)
        if self._judged:  # each verdict too (replacing those of an earlier aggregate of this run)
            try:
                self.store.record_judgements(self.run_id, iter_judgements(self.run_dir))
            except Exception:
                log.exception("results store: could not record the judgements of run %s", self.run_id)

    def close(self) -> None:
        """The store writer's last rows, the journal, then the store; then a judged run's verdicts
        into its conversation files (all written once the journal is closed)."""
        self._stack.close()
        if self._judged:
            annotate_conversation_files(self.run_dir)


def open_run_store(where: tuple[str, StoreOrigin], run_id: str, meta: dict[str, Any]) -> ResultsStore:
    """The results store at `where`, with run `run_id` started in it (its row's meta: `meta`)."""
    url, origin = where
    store = _when_not_busy(lambda: ResultsStore(url, background_checkpoints=True, origin=origin))
    try:
        _when_not_busy(lambda: store.start_run(run_id, meta))
    except BaseException:
        store.close()
        raise
    return store


def finish_run_in_store(store: ResultsStore, run_id: str, document: dict[str, Any], *, grade: bool) -> bool:
    """`store.finish_from_aggregate`, logged rather than raised (the run's files are written anyway);
    True once graded."""
    try:
        store.finish_from_aggregate(run_id, document, grade=grade)
    except Exception:
        log.exception("results store: could not finish run %s", run_id)
        return False
    return grade
