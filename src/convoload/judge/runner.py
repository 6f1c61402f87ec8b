"""`convoload judge RUN`: judge a finished run from its journal, after the fact.

Writes into the run folder `judgements.jsonl` (one `Judgement` per conversation, in the journal's
order) and `judgement.json` (the `JudgementSummary`). Conversations are judged `concurrency` at a
time in gevent greenlets, as conversations run (the LLM client's sockets are cooperative under the
command line's monkey-patching); the journal is read one line at a time.

`record_judged_run` then leaves the run as if it had been judged while it ran: the summary in
aggregate.json (and the judge's cost in its cost per success), the CSV's judge columns, report.html,
each conversation's file and the results store.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gevent.pool import Pool

from convoload.config import Config
from convoload.envsecrets import redact_json
from convoload.errors import ConfigError
from convoload.events import Event
from convoload.judge.judge import Judge
from convoload.judge.setup import JudgeResources, RubricChooser
from convoload.model import ConversationRecord
from convoload.model.judgement import Judgement, JudgementSummary
from convoload.store.journal import AGGREGATE_NAME, JOURNAL_NAME, journal_lines, write_json
from convoload.store.judgements import (
    JUDGEMENTS_NAME,
    SUMMARY_NAME,
    annotate_conversation_files,
    iter_judgements,
)
from convoload.store.results.engine import StoreOrigin

__all__ = [
    "JUDGEMENTS_NAME",
    "SUMMARY_NAME",
    "JudgedRun",
    "check_rubrics",
    "find_run_dir",
    "judge_finished_run",
    "judge_run",
    "read_judgements",
    "record_judged_run",
]

log = logging.getLogger(__name__)


def find_run_dir(run: str, runs_dir: Path) -> Path:
    """RUN as a folder holding a journal, or a run id (or unique id prefix) under `runs_dir`."""
    given = Path(run)
    if (given / JOURNAL_NAME).is_file():
        return given
    if runs_dir.is_dir():
        journals = (p for p in runs_dir.iterdir() if (p / JOURNAL_NAME).is_file())
        matches = sorted(p for p in journals if p.name.startswith(run))
        exact = [p for p in matches if p.name == run]
        if exact or len(matches) == 1:
            return (exact or matches)[0]
        if len(matches) > 1:
            names = ", ".join(p.name for p in matches[:5])
            raise ConfigError(f"run {run!r}", "", f"is the prefix of several runs ({names})")
    raise ConfigError(f"run {run!r}", "", f"no {JOURNAL_NAME} in {given} nor a run of that id in {runs_dir}")


def judge_run(
    run_dir: Path,
    judge: Judge,
    chooser: RubricChooser,
    *,
    concurrency: int = 4,
    on_judgement: Callable[[Judgement], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> JudgementSummary:
    """Judge every conversation of the run's journal; write judgements.jsonl and judgement.json.

    `on_total` hears how many conversations there are before the first is judged; `on_judgement`
    each verdict as it is written."""
    journal = run_dir / JOURNAL_NAME
    run_id, total = check_rubrics(run_dir, chooser)
    if on_total is not None:
        on_total(total)
    path = run_dir / JUDGEMENTS_NAME
    tmp = path.with_name(path.name + ".tmp")
    judgements: list[Judgement] = []
    with tmp.open("wb") as out:
        records = (record for record, _ in journal_lines(journal))
        for judgement in _judged(records, judge, chooser, concurrency):
            # Reasons quote the transcript: no known secret goes out, as in the journal.
            out.write(redact_json(judgement.model_dump_json().encode()) + b"\n")
            judgements.append(judgement)
            if on_judgement is not None:
                on_judgement(judgement)
    os.replace(tmp, path)
    summary = JudgementSummary.of(run_id, judgements)
    write_json(run_dir / SUMMARY_NAME, summary.model_dump(mode="json"))
    return summary


def judge_finished_run(
    config: Config, run_dir: Path, *, emit: Callable[[Event], None] | None = None
) -> JudgementSummary:
    """`judge.enabled`: a run judges its own conversations when they have all finished, as
    `convoload judge RUN` would, before its aggregate is written (which then holds the summary).
    `emit`: the run's event bus, so that the judge's LLM calls count as its judge cost."""
    with JudgeResources(config, emit=emit) as resources:
        return judge_run(
            run_dir, resources.judge, RubricChooser(config), concurrency=config.judge.concurrency
        )


def check_rubrics(run_dir: Path, chooser: RubricChooser) -> tuple[str, int]:
    """Bad input before any judging: every persona of the run must have a rubric that loads.
    Returns the run's id and how many conversations its journal holds."""
    run_id, total = run_dir.name, 0
    for record, _ in journal_lines(run_dir / JOURNAL_NAME):
        chooser.rubric(record.persona)
        run_id = record.run_id
        total += 1
    return run_id, total


def _judged(
    records: Iterator[ConversationRecord], judge: Judge, chooser: RubricChooser, concurrency: int
) -> Iterator[Judgement]:
    def one(record: ConversationRecord) -> Judgement:
        try:
            task = chooser.task(record)
        except ConfigError:
            raise
        except Exception as exc:  # the rubric's reference function failed on this conversation
            log.exception("reference facts for %s failed", record.session_id)
            return judge.failed(record, chooser.rubric(record.persona).name, f"reference facts: {exc!r}")
        return judge.judge(task)

    pool = Pool(max(1, concurrency))
    yield from pool.imap(one, records)  # in the journal's order, `concurrency` at a time


def read_judgements(run_dir: Path) -> list[Judgement]:
    """A judged run's judgements (what the lead's report integration reads)."""
    with (run_dir / JUDGEMENTS_NAME).open(encoding="utf-8") as handle:
        return [Judgement.model_validate_json(line) for line in handle if line.strip()]


# -- after the fact: the run's records as if it had been judged while it ran -------------------------


@dataclass(slots=True)
class JudgedRun:
    """What `record_judged_run` updated."""

    aggregate: Path | None = None  # aggregate.json (with conversations.csv), when the run had one
    html: Path | None = None  # report.html
    conversation_files: int = 0  # conversations/*.json given their judgement
    store: str | None = None  # the results store's URL, when the run is in it
    store_rows: int = 0


def record_judged_run(
    run_dir: Path, summary: JudgementSummary, store: tuple[str, StoreOrigin] | None
) -> JudgedRun:
    """After `judge_run`: the summary into aggregate.json under `judgement` (its conversations
    streamed from the old file to the new, never all in memory) with the judge's cost in the cost per
    success, conversations.csv with the judge's columns, report.html, each conversation's file, and
    the run's rows in the results store at `store` (when it has the run). A run folder without
    aggregate.json (only a journal) gets its conversation files and store rows."""
    from convoload.report.html import write_html_report
    from convoload.report.tables import read_aggregate_streamed, write_aggregate_files

    run_dir = Path(run_dir)
    done = JudgedRun()
    path = run_dir / AGGREGATE_NAME
    head: dict[str, Any] | None = None
    if path.is_file():
        head, conversations = read_aggregate_streamed(path)
        head["judgement"] = summary.model_dump(mode="json")  # in its place when judged before, else last
        _judge_cost(head, summary)
        write_aggregate_files(run_dir, head, conversations)
        done.aggregate = path
        done.html = write_html_report(run_dir, head)
    done.conversation_files = annotate_conversation_files(run_dir)
    if store is not None:
        done.store, done.store_rows = _record_in_store(store, run_dir, summary, head)
    return done


def _judge_cost(document: dict[str, Any], summary: JudgementSummary) -> None:
    """The judge's cost as a run that judged itself counts it: in judge_cost_usd and the cost per
    success (simulator + judge + agent, per goal reached). Judging again replaces the earlier cost."""
    run = document.get("summary")
    if not isinstance(run, dict) or "judge_cost_usd" not in run:
        return  # an aggregate from before costs per success were counted: nothing to keep in step
    judge = round(summary.usage.cost_usd, 8)
    total = float(run.get("simulator_cost_usd") or 0.0) + judge + float(run.get("agent_cost_usd") or 0.0)
    successes = int(run.get("successful_conversations") or 0)
    run["judge_cost_usd"] = judge
    run["cost_per_success_usd"] = round(total / successes, 8) if successes else None


def _record_in_store(
    where: tuple[str, StoreOrigin],
    run_dir: Path,
    summary: JudgementSummary,
    document: dict[str, Any] | None,
) -> tuple[str | None, int]:
    """The run's judgements (replacing earlier ones) and its summary's judge fields into the store;
    (None, 0) when there is no database there or it does not have the run."""
    from convoload.errors import RunNotFound
    from convoload.store.results import ResultsStore
    from convoload.store.results.engine import MissingDatabase
    from convoload.store.results.store import judge_summary_fields

    url, origin = where
    try:
        store = ResultsStore(url, create=False, origin=origin)
    except MissingDatabase:
        return None, 0
    fields = judge_summary_fields(summary.model_dump(mode="json"))
    run = (document or {}).get("summary")
    if isinstance(run, dict):
        fields.update({k: run[k] for k in ("judge_cost_usd", "cost_per_success_usd") if k in run})
    with store:
        try:
            rows = store.record_judgements(summary.run_id, iter_judgements(run_dir), fields)
        except RunNotFound:
            return None, 0
        return store.url, rows
