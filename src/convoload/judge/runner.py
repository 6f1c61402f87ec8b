"""`convoload judge RUN`: judge a finished run from its journal, after the fact.

Writes into the run folder `judgements.jsonl` (one `Judgement` per conversation, in the journal's
order) and `judgement.json` (the `JudgementSummary`). Conversations are judged `concurrency` at a
time in gevent greenlets, as conversations run (the LLM client's sockets are cooperative under the
command line's monkey-patching); the journal is read one line at a time.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from gevent.pool import Pool

from convoload.config import Config
from convoload.envsecrets import redact_json
from convoload.errors import ConfigError
from convoload.events import Event
from convoload.judge.judge import Judge
from convoload.judge.setup import JudgeResources, RubricChooser
from convoload.model import ConversationRecord
from convoload.model.judgement import Judgement, JudgementSummary
from convoload.store.journal import JOURNAL_NAME, journal_lines, write_json

JUDGEMENTS_NAME = "judgements.jsonl"
SUMMARY_NAME = "judgement.json"

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
