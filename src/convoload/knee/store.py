"""A capacity run's verdict in the results store (table `capacity`, migration 4), and read back."""

from __future__ import annotations

from sqlalchemy import delete, insert, select

from convoload.model.capacity import CapacityResult
from convoload.store.results import ResultsStore
from convoload.store.results.compare import KneeMove, knee_move
from convoload.store.results.schema import capacity, runs


def record_capacity(url: str, result: CapacityResult) -> None:
    """Store (or replace) the verdict of run `result.run_id`, whose row the run itself wrote."""
    with ResultsStore(url) as store, store.engine.begin() as conn:
        conn.execute(delete(capacity).where(capacity.c.run_id == result.run_id))
        conn.execute(
            insert(capacity).values(
                run_id=result.run_id,
                knee_users=result.verdict.knee_users,
                broke_users=result.verdict.broke_users,
                broken=[c.model_dump(mode="json") for c in result.verdict.broken],
                document=result.model_dump(mode="json"),
            )
        )


def stored_capacity(store: ResultsStore, run_id: str) -> CapacityResult | None:
    """The capacity result of the run with this id (or unique prefix); None when it was not one."""
    full_id = store.require_run(run_id).run_id
    with store.engine.connect() as conn:
        document = conn.execute(
            select(capacity.c.document)
            .join(runs, runs.c.run_id == capacity.c.run_id)
            .where(capacity.c.run_id == full_id)
        ).scalar_one_or_none()
    return None if document is None else CapacityResult.model_validate(document)


def compare_knees(store: ResultsStore, a: str, b: str) -> KneeMove | None:
    """Whether the knee moved from run `a` to run `b`; None unless both are capacity runs."""
    first, second = stored_capacity(store, a), stored_capacity(store, b)
    if first is None or second is None:
        return None
    return knee_move(first, second)
