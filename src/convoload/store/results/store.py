"""`ResultsStore`: runs, conversations, turns, findings and grades, written as they happen.

Each write is one transaction, committed before returning, so a process killed at any point
keeps everything it had written. (A load run hands finished conversations over in batches: see
convoload.load.store_writer.) Calls are synchronous and serialised by a lock: greenlets of
one process share the store, and SQLite allows one writer at a time anyway.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic_core import to_json
from sqlalchemy import JSON, Connection, Table, case, delete, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from convoload.errors import ConfigError, RunNotFound
from convoload.model import ConversationRecord, Finding, TurnRecord, distribution, utc_now
from convoload.model.judgement import CriterionScore, Judgement
from convoload.store.results.checkpoint import Checkpointer
from convoload.store.results.compare import Comparison, compare_runs
from convoload.store.results.engine import (
    RawJSON,
    StoreOrigin,
    is_busy,
    open_engine,
    sqlite_path,
    unreachable,
)
from convoload.store.results.migrations import migrate
from convoload.store.results.schema import conversations, findings, grades, judgements, runs, turns
from convoload.store.results.stats import RunRow, run_rows

STATUSES = ("running", "finished", "interrupted")

# Ids come back in the rows' order, so each conversation's turns can point at it.
_INSERT_CONVERSATIONS = insert(conversations).returning(conversations.c.id, sort_by_parameter_order=True)


def _conversation_row(run_id: str, record: ConversationRecord, document: RawJSON | None) -> dict[str, Any]:
    usage = record.usage
    return {
        "run_id": run_id,
        "session_id": record.session_id,
        "user_id": record.user_id,
        "persona": record.persona,
        "outcome": record.outcome.value if record.outcome else None,
        "stop_reason": record.stop_reason,
        "error_kind": record.error.kind.value if record.error else None,
        "goal_reached": record.goal_reached,
        "iterations": record.iterations,
        "total_time_ms": record.total_time_ms,
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "cost_usd": usage.cost_usd,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "document": document if document is not None else record.to_document(),
    }


_TURN_COLUMNS = (
    "conversation_id",
    "iteration",
    "user_text",
    "reply_text",
    "agent",
    "latency_ms",
    "ack_ms",
    "error_kind",
    "status_code",
    "sent_at",
)
_FINDING_COLUMNS = (
    "run_id",
    "session_id",
    "persona",
    "hook",
    "priority",
    "iteration",
    "message",
    "data",
    "at",
)


def _turn_row(conversation_id: int, turn: TurnRecord) -> tuple[Any, ...]:
    error = turn.error
    return (
        conversation_id,
        turn.iteration,
        turn.user_text,
        turn.reply_text,
        turn.agent,
        turn.latency_ms,
        turn.ack_ms,
        error.kind.value if error else None,
        error.status_code if error else None,
        turn.sent_at,
    )


def _finding_row(run_id: str, finding: Finding) -> tuple[Any, ...]:
    f = finding
    data = RawJSON(to_json(f.data).decode())  # pydantic-core's JSON: a fraction of json.dumps's cost
    return (run_id, f.session_id, f.persona, f.hook, f.priority, f.iteration, f.message, data, f.at)


class _BulkInsert:
    """Many rows into one table through the driver's own executemany, compiled once per dialect.

    SQLAlchemy's executemany builds and processes a parameter dictionary per row in Python: for the
    turns and findings of a load run (one row per turn, often a finding too) that would be most of
    the store's cost, paid in the event loop the conversations share. Here each row is a tuple of values
    the driver binds as they are (str, int, float, None); only JSON columns go through the dialect's
    own conversion (which passes our already serialised `RawJSON` on).
    """

    def __init__(self, table: Table, columns: tuple[str, ...]) -> None:
        self.table, self.columns = table, columns
        self._compiled: dict[tuple[str, str], tuple[str, bool, list[tuple[int, Callable[[Any], Any]]]]] = {}

    def __call__(self, conn: Connection, rows: list[tuple[Any, ...]]) -> None:
        dialect = conn.dialect
        key = (dialect.name, dialect.paramstyle)  # what the statement's text depends on
        compiled = self._compiled.get(key)
        if compiled is None:
            statement = insert(self.table).compile(dialect=dialect, column_keys=list(self.columns))
            if statement.positional and list(statement.positiontup or ()) != list(self.columns):
                raise RuntimeError(
                    f"unexpected parameter order for {self.table.name}: {statement.positiontup}"
                )
            processors = [
                (i, processor)
                for i, name in enumerate(self.columns)
                if isinstance(self.table.c[name].type, JSON)
                and (processor := self.table.c[name].type.bind_processor(dialect)) is not None
            ]
            compiled = (statement.string, bool(statement.positional), processors)
            self._compiled[key] = compiled
        sql, positional, processors = compiled
        if processors:
            rows = [_processed(row, processors) for row in rows]
        params: list[Any] = (
            rows if positional else [dict(zip(self.columns, row, strict=True)) for row in rows]
        )
        conn.exec_driver_sql(sql, params)


def _processed(row: tuple[Any, ...], processors: list[tuple[int, Callable[[Any], Any]]]) -> tuple[Any, ...]:
    values = list(row)
    for i, processor in processors:
        if values[i] is not None:
            values[i] = processor(values[i])
    return tuple(values)


_INSERT_TURNS = _BulkInsert(turns, _TURN_COLUMNS)
_INSERT_FINDINGS = _BulkInsert(findings, _FINDING_COLUMNS)
_JUDGEMENT_BATCH = 500  # rows per statement when a run's judgements go in


def _judgement_row(run_id: str, j: Judgement) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "session_id": j.session_id,
        "persona": j.persona,
        "rubric": j.rubric,
        "status": j.status,
        "passed": j.passed,
        "score": j.score,
        "criteria": [c.model_dump(mode="json") for c in j.criteria],
        "judge": j.judge,
        "error": j.error,
        "cost_usd": j.usage.cost_usd,
        "total_tokens": j.usage.total_tokens,
        "usage": j.usage.model_dump(mode="json"),
        "judged_at": j.judged_at,
    }


def judge_summary_fields(judgement: Mapping[str, Any]) -> dict[str, Any]:
    """What a run row's summary says of its judgement (an aggregate's `judgement`): the pass rate
    and mean score (0..1) of the judged conversations, None when the judge judged none."""
    judged = int(judgement.get("judged") or 0)
    return {
        "judged_conversations": judged,
        "judge_pass_rate": judgement.get("pass_rate") if judged else None,
        "judge_mean_score": judgement.get("mean_score") if judged else None,
    }


@dataclass(frozen=True)
class PersonaRow:
    persona: str
    conversations: int
    successful: int
    turn_p95_ms: float | None

    @property
    def success_rate(self) -> float:
        return self.successful / self.conversations if self.conversations else 0.0


@dataclass(frozen=True, slots=True)
class JudgementRow:
    """One conversation's verdict, as the store keeps it."""

    session_id: str
    persona: str
    rubric: str
    status: str  # judged | judge_error
    passed: bool | None
    score: float | None  # 0..1
    criteria: list[CriterionScore]  # each with its score and the judge's reason
    judge: str | None
    error: str | None
    cost_usd: float
    total_tokens: int
    judged_at: str

    def failed_criteria(self) -> list[CriterionScore]:
        return [c for c in self.criteria if not c.passed]


@dataclass(frozen=True)
class GradeRow:
    scenario: str
    grade: str
    success_rate: float | None
    p95_ms: float | None
    details: dict[str, Any]


class ResultsStore:
    def __init__(
        self,
        url: str,
        *,
        create: bool = True,
        background_checkpoints: bool = False,
        origin: StoreOrigin | None = None,
    ) -> None:
        """Open (and migrate) the database at `url`; with `create=False` a missing SQLite file is an error.

        `background_checkpoints`: a SQLite file's WAL is checkpointed by a native thread rather
        than by whichever commit crosses the threshold (for writers in a load run's event loop).
        A bad URL or a database that cannot be opened is a ConfigError naming `origin`.
        """
        path = sqlite_path(url)
        manual = background_checkpoints and path is not None
        self.engine = open_engine(url, create=create, manual_checkpoints=manual, origin=origin)
        self.url = self.engine.url.render_as_string(hide_password=True)
        self._lock = threading.Lock()
        try:
            migrate(self.engine)
        except SQLAlchemyError as exc:
            self.engine.dispose()
            if is_busy(exc):
                raise  # another process is migrating the same SQLite file: the caller tries again
            raise unreachable(origin, exc) from None
        self._checkpointer = Checkpointer(path) if manual and path is not None else None

    # -- writing ---------------------------------------------------------------------------------

    def start_run(self, run_id: str, meta: dict[str, Any], started_at: str | None = None) -> None:
        with self._lock, self.engine.begin() as conn:
            if conn.execute(select(runs.c.id).where(runs.c.run_id == run_id)).first() is not None:
                raise ConfigError(f"run {run_id!r}", "", f"already exists in {self.url}")
            conn.execute(
                insert(runs).values(
                    run_id=run_id, started_at=started_at or utc_now(), status="running", meta=meta
                )
            )

    def add_conversation(self, run_id: str, record: ConversationRecord) -> None:
        """Store a finished conversation, its turns and findings in one transaction (committed on return)."""
        self.add_conversations(run_id, [(record, None)])

    def add_conversations(
        self, run_id: str, batch: Sequence[tuple[ConversationRecord, RawJSON | None]]
    ) -> None:
        """Store finished conversations with their turns and findings in one transaction.

        Each item may carry the record's document already serialised (the journal's line), which
        is then stored as it is. Rows go in with one multi-row statement per table.
        """
        if not batch:
            return
        rows = [_conversation_row(run_id, record, document) for record, document in batch]
        with self._lock, self.engine.begin() as conn:
            ids = conn.execute(_INSERT_CONVERSATIONS, rows).scalars().all()
            turn_rows = [
                _turn_row(conversation_id, turn)
                for conversation_id, (record, _) in zip(ids, batch, strict=True)
                for turn in record.turns
            ]
            if turn_rows:
                _INSERT_TURNS(conn, turn_rows)
            finding_rows = [_finding_row(run_id, f) for record, _ in batch for f in record.findings]
            if finding_rows:
                _INSERT_FINDINGS(conn, finding_rows)

    def restore_from_journal(
        self, run_id: str, records: Sequence[ConversationRecord], summary: dict[str, Any]
    ) -> int | None:
        """Put back the journal's conversations the database lacks (a killed run's last batch).

        A run still marked running (its process was killed) is closed as interrupted with the
        rebuilt summary. Returns how many were added; None when the run is not in this database.
        """
        with self.engine.connect() as conn:
            row = conn.execute(select(runs.c.status).where(runs.c.run_id == run_id)).first()
            if row is None:
                return None
            stored = set(
                conn.execute(
                    select(conversations.c.session_id).where(conversations.c.run_id == run_id)
                ).scalars()
            )
        missing = [(r, None) for r in records if r.session_id not in stored]
        for start in range(0, len(missing), 200):
            self.add_conversations(run_id, missing[start : start + 200])
        if row.status == "running":
            self.finish_run(run_id, summary, status="interrupted")
        return len(missing)

    def add_findings(self, run_id: str, items: list[Finding]) -> None:
        if not items:
            return
        with self._lock, self.engine.begin() as conn:
            _INSERT_FINDINGS(conn, [_finding_row(run_id, f) for f in items])

    def add_grade(
        self,
        run_id: str,
        scenario: str,
        grade: str,
        success_rate: float | None,
        p95_ms: float | None,
        details: dict[str, Any],
    ) -> None:
        with self._lock, self.engine.begin() as conn:
            conn.execute(
                insert(grades).values(
                    run_id=run_id,
                    scenario=scenario,
                    grade=grade,
                    success_rate=success_rate,
                    p95_ms=p95_ms,
                    details=details,
                )
            )

    def finish_run(self, run_id: str, summary: dict[str, Any], status: str = "finished") -> None:
        if status not in STATUSES[1:]:
            raise ValueError(f"status must be finished or interrupted, not {status!r}")
        with self._lock, self.engine.begin() as conn:
            done = conn.execute(
                update(runs)
                .where(runs.c.run_id == run_id)
                .values(finished_at=utc_now(), status=status, summary=summary)
            )
            if done.rowcount == 0:
                raise self._unknown(run_id)

    def finish_from_aggregate(self, run_id: str, document: Mapping[str, Any], *, grade: bool = True) -> None:
        """Finish the run's row with its aggregate's summary and status (`aggregate.json`'s document),
        and, when `grade`, add its grade as the "run" scenario (a run is graded once, though its
        aggregate may be written more than once)."""
        status = document["run"].get("status")
        summary = document["summary"]
        if document.get("judgement") is not None:  # a judged run: its pass rate beside the rest
            summary = {**summary, **judge_summary_fields(document["judgement"])}
        self.finish_run(run_id, summary, status=status if status in STATUSES[1:] else "interrupted")
        assessment = document.get("assessment")
        if grade and assessment is not None:
            self.add_grade(
                run_id,
                "run",
                assessment["grade"],
                document["summary"]["success_rate"],
                document["latency"]["turn_ms"].get("p95"),
                assessment,
            )

    def record_judgements(
        self, run_id: str, items: Iterable[Judgement], summary: Mapping[str, Any] | None = None
    ) -> int:
        """Replace the run's judgements with `items` (judging a run again replaces its verdicts), and
        merge `summary` (keys of the run row's summary, e.g. judge_summary_fields) into its row, in
        one transaction; the items are read in batches. Returns how many rows were written."""
        written = 0
        with self._lock, self.engine.begin() as conn:
            full_id = self._require(conn, run_id).run_id
            conn.execute(delete(judgements).where(judgements.c.run_id == full_id))
            batch: list[dict[str, Any]] = []
            for item in items:
                batch.append(_judgement_row(full_id, item))
                if len(batch) == _JUDGEMENT_BATCH:
                    conn.execute(insert(judgements), batch)
                    written, batch = written + len(batch), []
            if batch:
                conn.execute(insert(judgements), batch)
                written += len(batch)
            if summary:
                current = conn.execute(select(runs.c.summary).where(runs.c.run_id == full_id)).scalar_one()
                merged = {**(current or {}), **summary}
                conn.execute(update(runs).where(runs.c.run_id == full_id).values(summary=merged))
        return written

    # -- reading ---------------------------------------------------------------------------------

    def list_runs(self, limit: int = 20) -> list[RunRow]:
        """The latest runs, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(runs).order_by(runs.c.started_at.desc(), runs.c.id.desc()).limit(limit)
            ).all()
            return run_rows(conn, rows)

    def get_run(self, run_id: str) -> RunRow | None:
        """The run with this id, or with a unique id prefix (like git); None when there is none."""
        with self.engine.connect() as conn:
            row = self._find(conn, run_id)
            return run_rows(conn, [row])[0] if row is not None else None

    def require_run(self, run_id: str) -> RunRow:
        """Like `get_run`, but an unknown run raises RunNotFound (one line for the CLI)."""
        row = self.get_run(run_id)
        if row is None:
            raise self._unknown(run_id)
        return row

    def conversations(self, run_id: str) -> list[ConversationRecord]:
        with self.engine.connect() as conn:
            full_id = self._require(conn, run_id).run_id
            docs = conn.execute(
                select(conversations.c.document)
                .where(conversations.c.run_id == full_id)
                .order_by(conversations.c.id)
            ).scalars()
            return [ConversationRecord.from_document(doc) for doc in docs]

    def findings(self, run_id: str) -> list[Finding]:
        with self.engine.connect() as conn:
            full_id = self._require(conn, run_id).run_id
            rows = conn.execute(
                select(findings).where(findings.c.run_id == full_id).order_by(findings.c.id)
            ).mappings()
            fields = Finding.model_fields
            return [Finding(**{k: v for k, v in row.items() if k in fields}) for row in rows]

    def grades(self, run_id: str) -> list[GradeRow]:
        with self.engine.connect() as conn:
            full_id = self._require(conn, run_id).run_id
            rows = conn.execute(select(grades).where(grades.c.run_id == full_id).order_by(grades.c.id))
            return [GradeRow(r.scenario, r.grade, r.success_rate, r.p95_ms, r.details) for r in rows]

    def judgements(self, run_id: str) -> list[JudgementRow]:
        """The judge's verdicts on the run's conversations, in the order they were judged."""
        with self.engine.connect() as conn:
            full_id = self._require(conn, run_id).run_id
            rows = conn.execute(
                select(judgements).where(judgements.c.run_id == full_id).order_by(judgements.c.id)
            )
            return [
                JudgementRow(
                    session_id=r.session_id,
                    persona=r.persona,
                    rubric=r.rubric,
                    status=r.status,
                    passed=r.passed,
                    score=r.score,
                    criteria=[CriterionScore.model_validate(c) for c in r.criteria],
                    judge=r.judge,
                    error=r.error,
                    cost_usd=r.cost_usd,
                    total_tokens=r.total_tokens,
                    judged_at=r.judged_at,
                )
                for r in rows
            ]

    def personas(self, run_id: str) -> list[PersonaRow]:
        with self.engine.connect() as conn:
            full_id = self._require(conn, run_id).run_id
            c = conversations
            counts = conn.execute(
                select(c.c.persona, func.count(), func.sum(case((c.c.goal_reached, 1), else_=0)))
                .where(c.c.run_id == full_id)
                .group_by(c.c.persona)
                .order_by(c.c.persona)
            ).all()
            latencies: dict[str, list[float]] = {}
            for persona, latency in conn.execute(
                select(c.c.persona, turns.c.latency_ms)
                .join(c, c.c.id == turns.c.conversation_id)
                .where(c.c.run_id == full_id, turns.c.error_kind.is_(None), turns.c.latency_ms.is_not(None))
            ):
                latencies.setdefault(persona, []).append(latency)
        return [
            PersonaRow(name, n, int(ok or 0), distribution(latencies.get(name, [])).get("p95"))
            for name, n, ok in counts
        ]

    def errors(self, run_id: str) -> dict[str, tuple[int, int]]:
        """Error kind -> (conversations ended by it, turns failed with it)."""
        with self.engine.connect() as conn:
            full_id = self._require(conn, run_id).run_id
            c = conversations
            ended = Counter(
                dict(
                    conn.execute(
                        select(c.c.error_kind, func.count())
                        .where(c.c.run_id == full_id, c.c.error_kind.is_not(None))
                        .group_by(c.c.error_kind)
                    ).all()
                )
            )
            failed = Counter(
                dict(
                    conn.execute(
                        select(turns.c.error_kind, func.count())
                        .join(c, c.c.id == turns.c.conversation_id)
                        .where(c.c.run_id == full_id, turns.c.error_kind.is_not(None))
                        .group_by(turns.c.error_kind)
                    ).all()
                )
            )
        return {kind: (ended[kind], failed[kind]) for kind in sorted(ended.keys() | failed.keys())}

    def finding_counts(self, run_id: str) -> list[tuple[str, str, int]]:
        """(hook, priority, findings) for the run, most frequent first."""
        with self.engine.connect() as conn:
            full_id = self._require(conn, run_id).run_id
            f = findings
            rows = conn.execute(
                select(f.c.hook, f.c.priority, func.count().label("n"))
                .where(f.c.run_id == full_id)
                .group_by(f.c.hook, f.c.priority)
                .order_by(func.count().desc(), f.c.hook)
            ).all()
            return [(hook, priority, n) for hook, priority, n in rows]

    def compare(self, a: str, b: str) -> Comparison:
        """Run `b` against the baseline `a`."""
        with self.engine.connect() as conn:
            rows = run_rows(conn, [self._require(conn, a), self._require(conn, b)])
        return compare_runs(rows[0], rows[1])

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.close()
        self.engine.dispose()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- run ids ---------------------------------------------------------------------------------

    def _find(self, conn: Connection, run_id: str) -> Any:
        exact = conn.execute(select(runs).where(runs.c.run_id == run_id)).first()
        if exact is not None or not run_id:
            return exact
        # Escape LIKE wildcards: run ids may contain `_`.
        pattern = run_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        matches = conn.execute(select(runs).where(runs.c.run_id.like(pattern, escape="\\")).limit(3)).all()
        if len(matches) > 1:
            names = ", ".join(m.run_id for m in matches[:2])
            raise ConfigError(f"run {run_id!r}", "", f"ambiguous prefix ({names}, ...): give more of the id")
        return matches[0] if matches else None

    def _require(self, conn: Connection, run_id: str) -> Any:
        row = self._find(conn, run_id)
        if row is None:
            raise self._unknown(run_id)
        return row

    def _unknown(self, run_id: str) -> RunNotFound:
        return RunNotFound(run_id, self.url)
