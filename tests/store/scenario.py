"""Hand-built runs with numbers worked out by hand, shared by the SQLite and Postgres tests."""

from __future__ import annotations

from convoload.model import (
    ConversationRecord,
    ErrorKind,
    Finding,
    Outcome,
    TurnError,
    TurnRecord,
    Usage,
)
from convoload.store.results import ResultsStore

T0 = "2024-05-01T10:00:00.000Z"


def conversation(
    run_id: str,
    session_id: str,
    persona: str,
    latencies: list[float | None],
    outcome: Outcome,
    total_ms: float,
    cost: float,
    error: ErrorKind | None = None,
) -> ConversationRecord:
    """A conversation whose turns took `latencies` (None: the turn failed with `error`, or a timeout)."""
    turns = []
    for i, latency in enumerate(latencies, start=1):
        failed = latency is None
        turns.append(
            TurnRecord(
                iteration=i,
                user_text=f"message {i} of {session_id}",
                sent_at=T0,
                reply_text=None if failed else f"reply {i}",
                reply_messages=[] if failed else [f"reply {i}"],
                agent=None if failed else ("triage" if i == 1 else "sales"),
                replied_at=None if failed else T0,
                latency_ms=latency,
                ack_ms=None if failed else 5.0,
                error=TurnError(kind=error or ErrorKind.TIMEOUT, message="no answer", status_code=None)
                if failed
                else None,
                goal_reached=outcome == Outcome.GOAL_REACHED and i == len(latencies),
            )
        )
    return ConversationRecord(
        run_id=run_id,
        session_id=session_id,
        user_id=int(session_id.rsplit("-", 1)[-1]),
        persona=persona,
        identity={"name": "Ana"},
        started_at=T0,
        finished_at=T0,
        outcome=outcome,
        stop_reason=outcome.value,
        error=TurnError(kind=error, message="gave up") if error else None,
        total_time_ms=total_ms,
        turns=turns,
        usage=Usage(prompt_tokens=100, completion_tokens=20, total_tokens=120, cost_usd=cost, llm_calls=2),
    )


def baseline(run_id: str = "a1b2-base") -> list[ConversationRecord]:
    """5 conversations; 2 reach the goal; 1 ends in error; 1 interrupted.

    ok turn latencies 100..500: p50 300, p95 = 400 + 0.8 * 100 = 480; conversation times (not the
    interrupted one) 1000..4000: p95 = 3000 + 0.85 * 1000 = 3850; cost 0.05 / 5 = 0.01.
    """
    return [
        conversation(run_id, "s-1", "Buyer", [100, 200], Outcome.GOAL_REACHED, 1000, 0.01),
        conversation(run_id, "s-2", "Buyer", [300, 400], Outcome.GOAL_REACHED, 2000, 0.01),
        conversation(run_id, "s-3", "Renter", [500, None], Outcome.ERROR, 3000, 0.02, ErrorKind.TIMEOUT),
        conversation(run_id, "s-4", "Renter", [], Outcome.USER_STOPPED, 4000, 0.01),
        conversation(run_id, "s-5", "Renter", [], Outcome.INTERRUPTED, 99_999, 0.0),
    ]


def slower(run_id: str = "c3d4-slow") -> list[ConversationRecord]:
    """Latencies doubled (p95 960), success 1/4, errors 2/4, cost 0.04 / 4 = 0.01 (unchanged)."""
    return [
        conversation(run_id, "s-1", "Buyer", [200, 400], Outcome.GOAL_REACHED, 1000, 0.01),
        conversation(run_id, "s-2", "Buyer", [600, 800], Outcome.MAX_ITERATIONS, 2000, 0.01),
        conversation(run_id, "s-3", "Renter", [1000, None], Outcome.ERROR, 3000, 0.01, ErrorKind.TIMEOUT),
        conversation(run_id, "s-4", "Renter", [None], Outcome.ERROR, 4000, 0.01, ErrorKind.HTTP_STATUS),
    ]


def faster(run_id: str = "c3e5-fast") -> list[ConversationRecord]:
    """Latencies halved (p50 150, p95 240), success 3/4, no errors, cost 0.02 / 4 = 0.005."""
    return [
        conversation(run_id, "s-1", "Buyer", [50, 100], Outcome.GOAL_REACHED, 500, 0.005),
        conversation(run_id, "s-2", "Buyer", [150, 200], Outcome.GOAL_REACHED, 1000, 0.005),
        conversation(run_id, "s-3", "Renter", [250], Outcome.GOAL_REACHED, 1500, 0.005),
        conversation(run_id, "s-4", "Renter", [], Outcome.USER_STOPPED, 2000, 0.005),
    ]


def findings_for(run_id: str) -> list[Finding]:
    return [
        Finding(
            hook="pii", priority="critical", session_id="s-1", persona="Buyer", message="CPF in reply", at=T0
        ),
        Finding(
            hook="pii",
            priority="critical",
            session_id="s-2",
            persona="Buyer",
            iteration=2,
            message="phone in reply",
            data={"field": "phone", "count": 2},
            at="2024-05-01T10:00:01.000Z",
        ),
        Finding(hook="tone", priority="quality", session_id="s-3", persona="Renter", message="curt", at=T0),
    ]


def fill(store: ResultsStore) -> dict[str, list[ConversationRecord]]:
    """Three runs an hour apart: baseline, then a slower one, then a faster one."""
    runs = {"a1b2-base": baseline(), "c3d4-slow": slower(), "c3e5-fast": faster()}
    for hour, (run_id, records) in enumerate(runs.items(), start=10):
        store.start_run(
            run_id, {"target": "demo", "users": len(records)}, started_at=f"2024-05-01T{hour}:00:00Z"
        )
        for record in records:
            store.add_conversation(run_id, record)
    store.add_findings("a1b2-base", findings_for("a1b2-base"))
    store.finish_run("a1b2-base", {"note": "baseline"})
    store.finish_run("c3d4-slow", {}, status="interrupted")
    return runs


def assert_scenario(store: ResultsStore, runs: dict[str, list[ConversationRecord]]) -> None:
    """Everything the SQLite and Postgres stores must agree on, against hand-computed numbers."""
    # Round trip: records rebuilt from the stored documents equal the originals, in order.
    for run_id, records in runs.items():
        assert [r.model_dump() for r in store.conversations(run_id)] == [r.model_dump() for r in records]
    assert store.findings("a1b2-base") == findings_for("a1b2-base")
    assert store.findings("c3d4-slow") == []

    listed = store.list_runs()
    assert [r.run_id for r in listed] == ["c3e5-fast", "c3d4-slow", "a1b2-base"]  # newest first
    assert [r.run_id for r in store.list_runs(limit=2)] == ["c3e5-fast", "c3d4-slow"]
    assert [r.status for r in listed] == ["running", "interrupted", "finished"]

    base = store.get_run("a1b2-base")
    assert base is not None
    assert (base.conversations, base.successful, base.failed) == (5, 2, 1)
    assert base.success_rate == 0.4 and base.error_rate == 0.2
    assert (base.turn_p50_ms, base.turn_p95_ms) == (300.0, 480.0)
    assert base.conversation_p95_ms == 3850.0
    assert round(base.cost_usd, 9) == 0.05 and round(base.cost_per_conversation, 9) == 0.01
    assert base.meta == {"target": "demo", "users": 5} and base.summary == {"note": "baseline"}
    assert base.finished_at is not None

    # B against A: success -15 points, p95 x2, errors +30 points -> regressions; cost unchanged -> not,
    # but the same cost over fewer goals is a higher cost per success.
    slow = store.compare("a1b2", "c3d4")
    assert slow.b.run_id == "c3d4-slow"
    assert slow.metric("success rate").b == 0.25
    assert round(slow.metric("success rate").delta, 9) == -0.15
    assert (slow.metric("turn p95").a, slow.metric("turn p95").b) == (480.0, 960.0)
    assert slow.metric("turn p95").change_pct == 100.0
    assert (slow.metric("turn p50").a, slow.metric("turn p50").b) == (300.0, 600.0)
    assert slow.metric("error rate").b == 0.5
    assert {m.name for m in slow.regressions} == {
        "success rate",
        "turn p50",
        "turn p95",
        "error rate",
        "cost per success",
    }
    assert not slow.metric("cost per conversation").regression
    assert not slow.metric("conversation p95").regression  # 3850 -> 3850

    # An improvement on every metric is never flagged.
    fast = store.compare("a1b2-base", "c3e5-fast")
    assert (fast.metric("turn p95").b, fast.metric("turn p50").b) == (240.0, 150.0)
    assert fast.metric("success rate").b == 0.75 and fast.metric("error rate").b == 0.0
    assert round(fast.metric("cost per conversation").b, 9) == 0.005
    assert fast.regressions == []
