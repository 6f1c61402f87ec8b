"""A small hand-built run for the HTML report tests: successes, failures with errors, an interruption,
findings spread over three minutes, several agents, LLM cost and a reply that tries to inject markup."""

from __future__ import annotations

from typing import Any

from convoload.model import (
    ConversationRecord,
    ErrorKind,
    Finding,
    Outcome,
    TurnError,
    TurnRecord,
    Usage,
)
from convoload.model.judgement import CriterionScore, Judgement, JudgementSummary, JudgeUsage
from convoload.report.aggregate import aggregate
from convoload.report.grading import assess

RUN_ID = "20240501-100000-abc123"
INJECTION = "<script>alert('pwned')</script>"


def _turn(
    i: int, agent: str | None, latency: float | None, reply: str | None = None, **extra: Any
) -> TurnRecord:
    return TurnRecord(
        iteration=i,
        user_text=f"user message {i}",
        sent_at=f"2024-05-01T10:00:{i:02d}.000Z",
        reply_text=reply
        if reply is not None
        else (f"reply {i} from {agent}" if latency is not None else None),
        agent=agent,
        replied_at=f"2024-05-01T10:00:{i:02d}.500Z" if latency is not None else None,
        latency_ms=latency,
        **extra,
    )


def _finding(session: str, persona: str, hook: str, priority: str, minute: int, message: str) -> Finding:
    return Finding(
        hook=hook,
        priority=priority,  # type: ignore[arg-type]
        session_id=session,
        persona=persona,
        iteration=1,
        message=message,
        at=f"2024-05-01T10:{minute:02d}:30.000Z",
    )


def records() -> list[ConversationRecord]:
    ok1 = ConversationRecord(
        run_id=RUN_ID,
        session_id="s-ok-1",
        user_id=1,
        persona="Renata",
        started_at="2024-05-01T10:00:00.000Z",
        finished_at="2024-05-01T10:00:03.000Z",
        outcome=Outcome.GOAL_REACHED,
        total_time_ms=3000.0,
        turns=[
            _turn(1, "triagem", 120.0),
            _turn(2, "busca", 480.0, reply=f"Here you go {INJECTION} & more"),
            _turn(3, "agendamento", 900.0, goal_reached=True),
        ],
        usage=Usage(prompt_tokens=300, completion_tokens=60, total_tokens=360, cost_usd=0.0021, llm_calls=3),
    )
    ok1.findings = [
        _finding("s-ok-1", "Renata", "agent_transitions", "critical", 0, "triagem → busca"),
        _finding("s-ok-1", "Renata", "price_discussions", "business", 1, "price discussed: R$ 2,300"),
    ]
    ok2 = ConversationRecord(
        run_id=RUN_ID,
        session_id="s-ok-2",
        user_id=2,
        persona="Marcus",
        started_at="2024-05-01T10:00:01.000Z",
        finished_at="2024-05-01T10:00:03.000Z",
        outcome=Outcome.GOAL_REACHED,
        total_time_ms=2000.0,
        turns=[_turn(1, "triagem", 150.0), _turn(2, "busca", 700.0, goal_reached=True, ack_ms=12.5)],
        usage=Usage(total_tokens=200, cost_usd=0.0013, llm_calls=2),
    )
    ok2.findings = [_finding("s-ok-2", "Marcus", "fast_responses", "quality", 2, "reply after 150 ms")]
    failed = ConversationRecord(
        run_id=RUN_ID,
        session_id="s-failed",
        user_id=3,
        persona="Marcus",
        started_at="2024-05-01T10:00:02.000Z",
        finished_at="2024-05-01T10:00:40.000Z",
        outcome=Outcome.ERROR,
        error=TurnError(kind=ErrorKind.TIMEOUT, message="no reply within 30 s"),
        total_time_ms=38000.0,
        turns=[
            _turn(1, "triagem", 200.0),
            _turn(
                2,
                None,
                None,
                error=TurnError(kind=ErrorKind.HTTP_STATUS, message="HTTP 502 from <proxy>", status_code=502),
            ),
        ],
    )
    interrupted = ConversationRecord(
        run_id=RUN_ID,
        session_id="s-interrupted",
        user_id=4,
        persona="Helena",
        started_at="2024-05-01T10:00:05.000Z",
        outcome=Outcome.INTERRUPTED,
        stop_reason="test ended",
        total_time_ms=800.0,
        turns=[_turn(1, "triagem", 300.0)],
    )
    return [ok1, ok2, failed, interrupted]


def document(recs: list[ConversationRecord]) -> dict[str, Any]:
    meta = {
        "run_id": RUN_ID,
        "started_at": "2024-05-01T10:00:00+00:00",
        "finished_at": "2024-05-01T10:03:00+00:00",
        "seed": 4242,
        "target": {"type": "http", "url": "http://agent.example.test/chat"},
    }
    doc = aggregate(recs, meta)
    doc["assessment"] = assess(doc)
    return doc


def _criterion(criterion_id: str, score: int, reason: str) -> CriterionScore:
    return CriterionScore(
        id=criterion_id, score=score, normalised=(score - 1) / 4, passed=score >= 4, reason=reason
    )


def judgements(recs: list[ConversationRecord]) -> list[Judgement]:
    """The judge's verdicts on `records()`: s-ok-1 passed, s-ok-2 and s-failed failed (one reason
    tries to inject markup), s-interrupted not judged."""
    verdicts = {
        "s-ok-1": [_criterion("goal_resolved", 5, "booked the visit"), _criterion("tone", 4, "friendly")],
        "s-ok-2": [
            _criterion("goal_resolved", 4, "answered"),
            _criterion("tone", 2, f"quoted {INJECTION} at the customer"),
        ],
        "s-failed": [_criterion("goal_resolved", 1, "never answered"), _criterion("tone", 3, "curt")],
    }
    out = []
    for r in recs:
        common = {"run_id": r.run_id, "session_id": r.session_id, "user_id": r.user_id, "persona": r.persona}
        criteria = verdicts.get(r.session_id)
        if criteria is None:
            out.append(
                Judgement(**common, rubric="realestate", status="judge_error", error="no reply to judge")
            )
            continue
        score = sum(c.normalised for c in criteria) / len(criteria)
        out.append(
            Judgement(
                **common,
                rubric="realestate",
                status="judged",
                passed=all(c.passed for c in criteria),
                score=round(score, 4),
                criteria=criteria,
                judge="local/judge",
                usage=JudgeUsage(prompt_tokens=100, completion_tokens=20, total_tokens=120, cost_usd=0.0001),
            )
        )
    return out


def judged_document(recs: list[ConversationRecord], verdicts: list[Judgement]) -> dict[str, Any]:
    """`document(recs)` as a judged run's aggregate holds it (`judgement` last)."""
    doc = document(recs)
    doc["judgement"] = JudgementSummary.of(RUN_ID, verdicts).model_dump(mode="json")
    return doc
