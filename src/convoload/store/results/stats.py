"""Run-level numbers computed from the stored rows (percentiles exactly, from every turn)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, case, func, select

from convoload.model import Outcome, distribution
from convoload.store.results.schema import conversations, turns


@dataclass
class RunRow:
    run_id: str
    started_at: str
    finished_at: str | None
    status: str
    conversations: int
    successful: int
    failed: int  # conversations whose outcome is `error`
    success_rate: float  # 0..1, of the conversations but the simulator's errors
    error_rate: float  # failed / conversations but the simulator's errors, 0..1
    turn_p50_ms: float | None
    turn_p95_ms: float | None
    conversation_p95_ms: float | None
    cost_usd: float
    meta: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] | None = None
    simulator_errors: int = 0  # conversations the simulated user broke: not the agent's, left out above

    @property
    def cost_per_conversation(self) -> float:
        return self.cost_usd / self.conversations if self.conversations else 0.0

    @property
    def cost_per_success(self) -> float | None:
        """Simulator + judge + agent cost per goal reached, as the run's summary says; for runs stored
        before it did, the simulator's cost (then the only one counted) per goal. None: no goal."""
        stored = (self.summary or {}).get("cost_per_success_usd")
        if stored is not None:
            return float(stored)
        return self.cost_usd / self.successful if self.successful else None

    @property
    def judge_pass_rate(self) -> float | None:
        """Of the conversations the judge judged, the share that passed its rubric (0..1); None when
        the run was not judged (or the judge judged none)."""
        return _summary_number(self.summary, "judge_pass_rate")

    @property
    def judge_mean_score(self) -> float | None:
        """The judge's mean score of the run's conversations, 0..1; None when not judged."""
        return _summary_number(self.summary, "judge_mean_score")


def _summary_number(summary: dict[str, Any] | None, key: str) -> float | None:
    value = (summary or {}).get(key)
    return None if value is None else float(value)


def _pct(values: list[float], name: str) -> float | None:
    value = distribution(values).get(name)
    return None if value is None else float(value)


def run_rows(conn: Connection, run_rows_: Sequence[Any]) -> list[RunRow]:
    """RunRows for the given `runs` table rows, in the same order (three queries whatever their number)."""
    ids = [r.run_id for r in run_rows_]
    if not ids:
        return []
    c = conversations
    counts = {
        row.run_id: row
        for row in conn.execute(
            select(
                c.c.run_id,
                func.count().label("n"),
                func.sum(case((c.c.goal_reached, 1), else_=0)).label("ok"),
                func.sum(case((c.c.outcome == Outcome.ERROR.value, 1), else_=0)).label("failed"),
                func.sum(case((c.c.outcome == Outcome.SIMULATOR_ERROR.value, 1), else_=0)).label("simulator"),
                func.sum(c.c.cost_usd).label("cost"),
            )
            .where(c.c.run_id.in_(ids))
            .group_by(c.c.run_id)
        )
    }
    # The same selection as the report aggregate: failed turns have no meaningful latency, and an
    # interrupted conversation's duration is only where the test stopped it.
    turn_ms: dict[str, list[float]] = defaultdict(list)
    for run_id, latency in conn.execute(
        select(c.c.run_id, turns.c.latency_ms)
        .join(c, c.c.id == turns.c.conversation_id)
        .where(c.c.run_id.in_(ids), turns.c.error_kind.is_(None), turns.c.latency_ms.is_not(None))
    ):
        turn_ms[run_id].append(latency)
    conversation_ms: dict[str, list[float]] = defaultdict(list)
    for run_id, total in conn.execute(
        select(c.c.run_id, c.c.total_time_ms).where(
            c.c.run_id.in_(ids), (c.c.outcome.is_(None)) | (c.c.outcome != Outcome.INTERRUPTED.value)
        )
    ):
        conversation_ms[run_id].append(total)

    out = []
    for r in run_rows_:
        count = counts.get(r.run_id)
        n = count.n if count else 0
        ok = int(count.ok or 0) if count else 0
        failed = int(count.failed or 0) if count else 0
        simulator = int(count.simulator or 0) if count else 0
        judged = n - simulator
        out.append(
            RunRow(
                run_id=r.run_id,
                started_at=r.started_at,
                finished_at=r.finished_at,
                status=r.status,
                conversations=n,
                successful=ok,
                failed=failed,
                success_rate=ok / judged if judged else 0.0,
                error_rate=failed / judged if judged else 0.0,
                turn_p50_ms=_pct(turn_ms[r.run_id], "p50"),
                turn_p95_ms=_pct(turn_ms[r.run_id], "p95"),
                conversation_p95_ms=_pct(conversation_ms[r.run_id], "p95"),
                cost_usd=float(count.cost or 0.0) if count else 0.0,
                meta=r.meta or {},
                summary=r.summary,
                simulator_errors=simulator,
            )
        )
    return out
