"""The metrics window judges the agent only on conversations that ran their course."""

from convoload.model import ConversationRecord, ErrorKind, Outcome, TurnError, TurnRecord
from convoload.monitor.window import ConversationWindow


def _record(session: str, outcome: Outcome, *, error: ErrorKind | None = None) -> ConversationRecord:
    turns = [
        TurnRecord(
            iteration=1, user_text="oi", sent_at="t", reply_text="olá", latency_ms=300.0, agent="triagem"
        ),
        TurnRecord(
            iteration=2,
            user_text="quero visitar",
            sent_at="t",
            reply_text="" if error else "agendado",
            latency_ms=None if error else 500.0,
            agent=None if error else "agenda",
            error=TurnError(kind=error, message="x") if error else None,
        ),
    ]
    return ConversationRecord(
        run_id="probes",
        session_id=session,
        user_id=1,
        persona="Renata",
        started_at="t",
        outcome=outcome,
        turns=turns,
    )


def test_conversations_the_monitor_cut_off_are_counted_but_not_judged() -> None:
    window = ConversationWindow(900, clock=lambda: 1000.0)
    window.add(_record("a", Outcome.GOAL_REACHED))
    window.add(_record("b", Outcome.GOAL_REACHED))
    # A shutdown kills the collection under way: its conversations end as interrupted.
    window.add(_record("c", Outcome.INTERRUPTED))
    metrics = window.metrics()
    assert metrics.conversations == 2
    assert metrics.success_rate == 1.0  # no dip, so no alert, each time the monitor stops
    assert metrics.error_rate == 0.0
    assert window.totals.outcomes == {"goal_reached": 2, "interrupted": 1}  # the counters keep it


def test_a_conversation_that_failed_is_still_judged() -> None:
    window = ConversationWindow(900, clock=lambda: 1000.0)
    window.add(_record("a", Outcome.GOAL_REACHED))
    window.add(_record("b", Outcome.ERROR, error=ErrorKind.WEBHOOK_TIMEOUT))
    metrics = window.metrics()
    assert metrics.conversations == 2 and metrics.success_rate == 0.5
    assert metrics.error_rate == 0.25
    assert window.totals.error_kinds == {"webhook_timeout": 1}
