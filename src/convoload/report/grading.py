"""Grades, health status and recommendations from a run's (or scenario's) aggregate.

Grade: A+ (> 95 % success, < 3 s), A (> 90 %, < 5 s), B (> 80 %, < 8 s), C (> 70 %, < 10 s), D otherwise,
where the time is the p95 turn latency. Health uses the monitoring thresholds: success < 70 % or p95 > 10 s
or error rate > 20 % is critical; < 85 %, > 5 s or > 10 % is a warning.

Conversations the simulated user broke (outcome simulator_error, users.simcheck) are not the agent's:
the success rate is over the other conversations (report.aggregate) and they add no error; a
recommendation names them by fault, so such a run never reads "No action needed".

Incomplete runs (report.completion: stopped early by a signal or the time limit, killed, or fewer
conversations finished than planned) are graded on the conversations they held, as any run, but the
grade is at most B, the health at best a warning, and the first recommendation says the run is
incomplete — never "No action needed". The conversations never held are not counted as failures of
the agent: stopping a run says nothing about the agent, and its verdict must not read as an outage.

Quality (the test pipeline's scenarios, which measure it): each quality metric — coherence, agent
coordination, user experience and the suite's domain checks (e.g. data consistency), shares from 0
to 1 — is graded on the success rate's bands (> 0.95 A+, > 0.90 A, > 0.80 B, > 0.70 C, else D), and
the grade is the lowest of the
success-and-latency grade and those: one metric at 0.67 makes the scenario a D, whatever its success.
Every metric at 0.95 or below adds a recommendation naming it, its value and the grade it allows, so
such a scenario never reads "No action needed".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from convoload.model.pipeline import PipelineOverall, ScenarioResult
from convoload.model.report import Assessment, Completion, RunReport

Grade = Literal["A+", "A", "B", "C", "D"]
Health = Literal["healthy", "warning", "critical"]

GRADE_BANDS: tuple[tuple[Grade, float, float], ...] = (
    ("A+", 0.95, 3.0),
    ("A", 0.90, 5.0),
    ("B", 0.80, 8.0),
    ("C", 0.70, 10.0),
)
GRADE_ORDER: tuple[Grade, ...] = ("A+", "A", "B", "C", "D")


def grade(success_rate: float, p95_s: float) -> Grade:
    for name, min_success, max_seconds in GRADE_BANDS:
        if success_rate > min_success and p95_s < max_seconds:
            return name
    return "D"


QUALITY_METRICS: dict[str, str] = {
    "coherence": "replies were errors, read like an error message or were suspiciously short: read those "
    "turns (error_responses and short_responses findings)",
    "agent_coordination": "hand-offs went between agents the system does not allow to hand off: check the "
    "agents' hand-off instructions (agent_transitions findings)",
    "user_experience": "turns failed or took 5 s or more: see the errors and the latency per agent",
}


def share_grade(share: float) -> Grade:
    """The grade a share (0..1) earns on the success rate's bands: > 0.95 A+, ... , D."""
    for name, min_share, _ in GRADE_BANDS:
        if share > min_share:
            return name
    return "D"


def worst(*grades: Grade) -> Grade:
    return max(grades, key=GRADE_ORDER.index)


def quality_grade(metrics: Mapping[str, float]) -> Grade:
    """The best grade the quality metrics allow: the lowest any of them earns (A+ with none)."""
    return worst("A+", *(share_grade(value) for value in metrics.values()))


def quality_recommendations(
    metrics: Mapping[str, float], advice: Mapping[str, str] | None = None
) -> list[str]:
    """One line per quality metric that holds the grade back (0.95 or below), lowest first.

    `advice` says what a metric's shortfall means, for metrics (a suite's domain checks) beyond
    QUALITY_METRICS."""
    out = []
    for name, value in sorted(metrics.items(), key=lambda item: item[1]):
        if share_grade(value) != "A+":
            reason = (advice or {}).get(name) or QUALITY_METRICS.get(name, "see the scenario's records")
            out.append(
                f"{name.replace('_', ' ')} is {value:.2f} (grade at most {share_grade(value)}): "
                f"{round((1 - value) * 100)} % of {reason}."
            )
    return out


def at_least(actual: str, floor: str) -> bool:
    """Is `actual` as good as `floor` or better?"""
    if floor not in GRADE_ORDER:
        raise ValueError(f"unknown grade {floor!r} (one of {', '.join(GRADE_ORDER)})")
    return GRADE_ORDER.index(actual) <= GRADE_ORDER.index(floor)  # type: ignore[arg-type]


def health(success_rate: float, p95_s: float, error_rate: float) -> Health:
    if success_rate < 0.70 or p95_s > 10 or error_rate > 0.20:
        return "critical"
    if success_rate < 0.85 or p95_s > 5 or error_rate > 0.10:
        return "warning"
    return "healthy"


def assess_report(report: RunReport | Mapping[str, Any]) -> Assessment:
    """Grade, health and recommendations for a run's report (or its aggregate document)."""
    report = RunReport.of(report)
    summary = report.summary
    turns = report.latency.turn_ms
    p95_s = (turns.p95 or 0.0) / 1000 if turns.count else 0.0
    error_rate = summary.failed_turns / (summary.total_turns or 1)
    success = summary.success_rate
    verdict = Assessment(
        grade=grade(success, p95_s),
        health=health(success, p95_s, error_rate),
        success_rate=success,
        p95_turn_s=round(p95_s, 3),
        error_rate=round(error_rate, 4),
        recommendations=recommendations(report, p95_s, error_rate),
    )
    incomplete = _incomplete(summary.completion)
    return verdict if incomplete is None else mark_incomplete(verdict, incomplete)


def assess(document: RunReport | Mapping[str, Any]) -> dict[str, Any]:
    """`assess_report` as the `assessment` section of aggregate.json, for the writers that build it."""
    return assess_report(document).to_document()


INCOMPLETE_GRADE_CAP: Grade = "B"

# The verdicts that carry a grade, a health and recommendations: a run's, a scenario's, a pipeline's.
Verdict = TypeVar("Verdict", Assessment, ScenarioResult, PipelineOverall)


def mark_incomplete(verdict: Verdict, advice: str) -> Verdict:
    """The incomplete-run rule applied to a verdict, as a copy: grade at most B, health at best a
    warning, `complete` False, `advice` first, never "No action needed"."""
    better = GRADE_ORDER[: GRADE_ORDER.index(INCOMPLETE_GRADE_CAP)]
    others = [line for line in verdict.recommendations if not line.startswith("No action needed")]
    return verdict.model_copy(
        update={
            "grade": INCOMPLETE_GRADE_CAP if verdict.grade in better else verdict.grade,
            "health": "warning" if verdict.health == "healthy" else verdict.health,
            "complete": False,
            "recommendations": [advice, *others],
        }
    )


def _incomplete(completion: Completion | None) -> str | None:
    """The recommendation that says a run did not do what it planned (see report.completion); None
    for a complete run (or a document that does not say)."""
    from convoload.report.completion import describe

    if completion is None or completion.complete:
        return None
    return (
        f"Incomplete run: {describe(completion)}. Its figures cover only the conversations it held "
        f"(grade at most {INCOMPLETE_GRADE_CAP}): run it to the end before acting on its grade."
    )


def recommendations(report: RunReport, p95_s: float, error_rate: float) -> list[str]:
    """Concrete next steps derived from what the run found, most important first."""
    summary = report.summary
    out: list[str] = []
    for kind, count in sorted(summary.errors_by_kind.items(), key=lambda kv: -kv[1]):
        out.append(
            _ERROR_ADVICE.get(kind, "Investigate the {kind} errors ({count}).").format(kind=kind, count=count)
        )
    if summary.simulator_errors:
        out.append(simulator_advice(summary.simulator_errors, summary.simulator_faults))
    if p95_s > 5:
        out.append(
            f"p95 turn latency is {p95_s:.1f} s: profile the slowest agent (see latency per agent) and "
            "cache catalog lookups or shorten prompts."
        )
    by_hook = report.findings.by_hook
    fallbacks = by_hook.get("ollama_fallbacks")
    if fallbacks:
        out.append(
            f"{fallbacks.count} calls fell back to the local model: check the primary "
            "provider's rate limits and keys (convoload llm check)."
        )
    transitions = by_hook.get("agent_transitions")
    if transitions and any(
        "excessive" in (e.message or "") or "more than" in (e.message or "") for e in transitions.examples
    ):
        out.append("Some conversations bounce between agents too often: tighten the hand-off instructions.")
    short = by_hook.get("short_responses")
    if short:
        out.append(
            f"{short.count} replies were suspiciously short: check for truncated or empty model output."
        )
    stopped = summary.outcomes.get("user_stopped", 0)
    if stopped:
        out.append(
            f"{stopped} simulated customers gave up (the agent did not understand or looped): read their "
            "transcripts."
        )
    limit = summary.outcomes.get("max_iterations", 0)
    if limit:
        out.append(
            f"{limit} conversations hit the turn limit without reaching the goal: the flow may be too long."
        )
    if not out and summary.total_conversations == 0:
        out.append("No conversation was held: nothing was checked.")
    if not out:
        out.append("No action needed: every check passed.")
    return out


def simulator_advice(count: int, faults: Mapping[str, int]) -> str:
    """The recommendation for conversations the simulated user broke (never counted against the agent)."""
    kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(faults.items(), key=lambda kv: -kv[1]))
    return (
        f"{count} conversations ended on a simulator fault ({kinds}), also after a retry: they are not "
        "counted against the agent. Check the simulated user's model and prompt (convoload llm check)."
    )


_ERROR_ADVICE = {
    "timeout": "{count} turns timed out: raise the target timeout or find what blocks the agent.",
    "webhook_timeout": "{count} callbacks never arrived: check the agent's webhook delivery and public URL.",
    "http_status": "{count} turns got HTTP errors: read the agent's logs for those sessions.",
    "connection_refused": "{count} turns could not connect: is the agent up and reachable from here?",
    "connection_lost": "{count} connections broke mid-request: check proxies and the agent's worker limits.",
    "malformed_reply": "{count} replies were not in the expected format: check reply_path and the output.",
    "empty_reply": "{count} empty replies: the agent produced no text for some turns.",
    "llm_error": "{count} simulated-user LLM calls failed on every provider: check keys and quotas.",
}
