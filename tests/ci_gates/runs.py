"""Run folders made from records, as a run leaves them (journal, conversation files, aggregate), for the
CI-gate tests that need a finished run without running one; and the JUnit XML schema they validate
against.

junit-10.xsd is the Jenkins xUnit plugin's JUnit schema (MIT, © 2014 Gregory Boissinot, its licence is
in the file): the dialect Jenkins reads and GitLab's and GitHub's test reporters parse. This copy is the
one pytest ships in its source distribution on PyPI (pytest-9.2.0.tar.gz,
testing/example_scripts/junit-10.xsd), where pytest validates its own --junitxml output against it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import xmlschema

from convoload.model import ConversationRecord, Outcome, TurnError, TurnRecord
from convoload.model.records import ErrorKind, SimulatorFault
from convoload.model.report import RunReport
from convoload.report.aggregate import aggregate, journal_summaries
from convoload.report.grading import assess
from convoload.store.journal import JOURNAL_NAME, RunJournal

JUNIT_XSD = Path(__file__).with_name("junit-10.xsd")


@cache
def junit_schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(JUNIT_XSD))


def conversation(
    user_id: int,
    outcome: Outcome,
    *,
    persona: str = "Talliz",
    turns: int = 2,
    reply: str = "Claro! Qual data?",
    error: TurnError | None = None,
    latency_ms: float = 120.0,
    run_id: str = "run-a",
) -> ConversationRecord:
    """A finished conversation of `turns` turns; with `error`, its last turn failed with it."""
    made = []
    for i in range(1, turns + 1):
        last = i == turns
        failed = last and error is not None
        made.append(
            TurnRecord(
                iteration=i,
                user_text=f"mensagem {i} de {persona}",
                sent_at="2026-12-05T10:00:00.000Z",
                reply_text=None if failed else f"{reply} ({i})",
                agent=None if failed else "vendas",
                latency_ms=None if failed else latency_ms,
                error=error if failed else None,
                goal_reached=last and outcome == Outcome.GOAL_REACHED,
            )
        )
    return ConversationRecord(
        run_id=run_id,
        session_id=f"s{user_id:03d}",
        user_id=user_id,
        persona=persona,
        started_at="2026-12-05T10:00:00.000Z",
        finished_at="2026-12-05T10:00:02.000Z",
        outcome=outcome,
        stop_reason="max_iterations" if outcome == Outcome.MAX_ITERATIONS else None,
        error=error if outcome == Outcome.ERROR else None,
        total_time_ms=1000.0 * user_id,
        turns=made,
        simulator_fault=SimulatorFault.ROLE_LEAK if outcome == Outcome.SIMULATOR_ERROR else None,
    )


def mixed_conversations(run_id: str = "run-a") -> list[ConversationRecord]:
    """One conversation of each kind a CI report tells apart."""
    http_500 = TurnError(kind=ErrorKind.HTTP_STATUS, message="HTTP 500 from the agent", status_code=500)
    return [
        conversation(1, Outcome.GOAL_REACHED, run_id=run_id),
        conversation(2, Outcome.MAX_ITERATIONS, persona="Edman", turns=5, run_id=run_id),
        conversation(3, Outcome.ERROR, persona="Kataryna", error=http_500, run_id=run_id),
        conversation(4, Outcome.INTERRUPTED, run_id=run_id),
        conversation(5, Outcome.SIMULATOR_ERROR, persona="Edman", run_id=run_id),
    ]


def write_run(run_dir: Path, records: list[ConversationRecord], run_id: str = "run-a") -> RunReport:
    """A run folder holding these records, and its report as a finished run returns it (conversations
    read from the journal)."""
    journal = RunJournal(run_dir)
    for record in records:
        journal.append(record)
    journal.close()
    document = aggregate(records, {"run_id": run_id, "seed": 7, "started_at": "2026-12-05T10:00:00Z"})
    document["assessment"] = assess(document)
    return RunReport.from_document(
        document, run_dir=run_dir, conversations=lambda: journal_summaries(run_dir / JOURNAL_NAME)
    )
