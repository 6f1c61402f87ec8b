"""`--summary-md`: a finished run, pipeline or capacity search summed up in Markdown for a CI page.

Grade, goal rate, latency, cost, the comparison with a baseline run when one was given (the same
metrics and thresholds as `convoload runs compare`), and the worst conversations (failed first), each
with its last turns folded in a `<details>` block. When `$GITHUB_STEP_SUMMARY` is set (a GitHub Actions
step), the summary is appended to that file too: GitHub shows it on the job's page.

The worst conversations are picked in one pass over the journals, keeping only the few shown.
"""

from __future__ import annotations

import heapq
import html
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from convoload.model import ConversationRecord, Outcome
from convoload.model.capacity import CapacityResult
from convoload.model.pipeline import PipelineResults
from convoload.model.report import RunReport
from convoload.report.aggregate import journal_records
from convoload.report.junit import clean, failure_reason, last_turns
from convoload.store.journal import JOURNAL_NAME
from convoload.store.judgements import conversation_file
from convoload.store.results.compare import Comparison, KneeMove

STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"
WORST = 5  # conversations shown
TURNS = 3  # turns shown of each

# A conversation's verdict: the record -> passed (a pipeline scenario's rule; by default the goal).
Verdict = Callable[[ConversationRecord], bool]


@dataclass(slots=True)
class Worst:
    """One conversation worth a look, where it is, and whether it passed."""

    record: ConversationRecord
    run_dir: Path
    passed: bool
    label: str = ""  # what it belongs to (a pipeline scenario)


def _rank(item: Worst) -> tuple[int, float]:
    # Errors of the target first, then failures, then the slowest of those that passed; conversations
    # that tested nothing of the agent (interrupted, broken by the simulated user) last.
    record = item.record
    if record.outcome in (Outcome.INTERRUPTED, Outcome.SIMULATOR_ERROR):
        order = 3
    elif item.passed:
        order = 2
    elif record.error is not None:
        order = 0
    else:
        order = 1
    return order, -record.total_time_ms


def worst_conversations(runs: Iterable[tuple[Path, Verdict | None, str]], count: int = WORST) -> list[Worst]:
    """The `count` worst conversations of the runs (run folder, verdict, label), failed first: a bounded
    heap over the journals, one record in memory besides those kept."""

    def candidates() -> Iterator[Worst]:
        for run_dir, verdict, label in runs:
            for record in journal_records(Path(run_dir) / JOURNAL_NAME):
                passed = verdict(record) if verdict is not None else record.goal_reached
                yield Worst(record, Path(run_dir), passed, label)

    return heapq.nsmallest(count, candidates(), key=_rank)


# -- Markdown pieces -----------------------------------------------------------------------------------


def cell(text: object) -> str:
    """A table cell: one line, its pipes escaped."""
    return clean(" ".join(str(text).split())).replace("|", "\\|")


def table(header: list[str], rows: Iterable[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def _fence(text: str) -> str:
    """A code fence longer than any run of backticks in `text`, so that nothing in it closes the block."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.2f}%"


def _seconds(ms: float | None) -> str:
    return "–" if ms is None else f"{ms / 1000:.2f} s"


def _usd(value: float | None) -> str:
    return "–" if value is None else f"${value:.4f}"


def worst_section(worst: list[Worst], turns: int = TURNS) -> list[str]:
    if not worst:
        return []
    lines = ["### Worst conversations", ""]
    for item in worst:
        record = item.record
        mark = (
            "✅"
            if item.passed
            else "⏭️"
            if record.outcome in (Outcome.INTERRUPTED, Outcome.SIMULATOR_ERROR)
            else "❌"
        )
        why = "passed" if item.passed else failure_reason(record)
        where = f"{item.label}: " if item.label else ""
        title = (
            f"{mark} {where}{record.persona} #{record.user_id} — {why} ({record.total_time_ms / 1000:.1f} s)"
        )
        body = "\n".join(clean(line) for line in last_turns(record, turns))
        fence = _fence(body)
        transcript = conversation_file(item.run_dir, record.user_id, record.session_id)
        lines += [
            "<details>",
            f"<summary>{html.escape(clean(title))}</summary>",
            "",
            f"{fence}text",
            body,
            fence,
            "",
            f"Transcript: `{clean(transcript.name)}` in the run folder `{clean(item.run_dir.name)}`.",
            "</details>",
            "",
        ]
    return lines


def comparison_section(comparison: Comparison | None, knee: KneeMove | None = None) -> list[str]:
    if comparison is None:
        return []
    lines = [f"### Compared with baseline `{comparison.a.run_id}`", ""]
    rows = [
        [m.name, m.shown(m.a), m.shown(m.b), m.delta_text, "❌ regression" if m.regression else "ok"]
        for m in comparison.metrics
    ]
    lines += table(["metric", "baseline", "this run", "delta", ""], rows)
    regressions = len(comparison.regressions) + (knee is not None and knee.regression)
    if knee is not None:
        lines += [("❌ " if knee.regression else "") + knee.line, ""]
    if regressions:
        lines += [f"**{regressions} regression(s)** against the baseline.", ""]
    else:
        lines += ["No regression against the baseline.", ""]
    return lines


def _run_rows(report: RunReport) -> list[list[str]]:
    summary = report.summary
    turn = report.latency.turn_ms
    conversation = report.latency.conversation_ms
    errors = ", ".join(f"{k} {v}" for k, v in summary.errors_by_kind.items()) or "none"
    rows = [
        [
            "goal rate",
            # Of the conversations that tested the agent: those the simulated user broke are left out.
            f"{_pct(summary.success_rate)} ({summary.successful_conversations} of "
            f"{summary.total_conversations - summary.simulator_errors})",
        ],
        ["turn latency p50 / p95", f"{_seconds(turn.p50)} / {_seconds(turn.p95)}"],
        ["conversation p95", _seconds(conversation.p95)],
        ["errors", errors],
        ["cost", f"{_usd(summary.total_cost_usd)} ({_usd(summary.cost_per_success_usd)} per success)"],
    ]
    if summary.interrupted_conversations:
        rows.append(["interrupted", str(summary.interrupted_conversations)])
    if summary.simulator_errors:
        rows.append(["broken by the simulated user", str(summary.simulator_errors)])
    if report.judgement is not None and report.judgement.pass_rate is not None:
        rows.append(["judge pass rate", _pct(report.judgement.pass_rate)])
    if not report.complete:
        rows.append(["complete", "no: stopped early (grade capped)"])
    return rows


def run_summary(
    report: RunReport,
    *,
    title: str = "convoload run",
    comparison: Comparison | None = None,
    knee: KneeMove | None = None,
    worst: int = WORST,
    turns: int = TURNS,
) -> str:
    """A run (`run`, `stress`) in Markdown."""
    grade = report.grade or "–"
    lines = [f"## {title} `{report.run_id}` — grade **{grade}**", ""]
    lines += table(["", ""], _run_rows(report))
    lines += comparison_section(comparison, knee)
    if report.assessment is not None and report.assessment.recommendations:
        lines += ["### Recommendations", ""]
        lines += [f"- {cell(r)}" for r in report.assessment.recommendations[:5]] + [""]
    if report.run_dir is not None:
        lines += worst_section(worst_conversations([(report.run_dir, None, "")], worst), turns)
    return "\n".join(lines)


def capacity_summary(
    result: CapacityResult,
    report: RunReport | None,
    *,
    comparison: Comparison | None = None,
    knee: KneeMove | None = None,
    worst: int = WORST,
    turns: int = TURNS,
) -> str:
    """A capacity search in Markdown: the verdict, the steps with their SLOs, then the run's numbers."""
    mark = "✅" if result.verdict.broke_users is None else "⚠️"
    lines = [f"## convoload capacity `{result.run_id}`", "", f"{mark} **{result.verdict.line}**", ""]
    rows = []
    for step in result.steps:
        verdict = "met" if step.passed else "❌ broke " + ", ".join(c.slo.text for c in step.broken)
        rows.append(
            [
                f"{step.users}{' (cut short)' if step.cut_short else ''}",
                f"{step.conversations_started}/{step.conversations_finished}",
                _pct(step.goal_rate),
                "/".join("–" if v is None else f"{v:.2f}" for v in (step.p50_turn_s, step.p95_turn_s)),
                _pct(step.error_rate),
                _usd(step.cost_per_success_usd),
                verdict,
            ]
        )
    lines += table(["users", "conv.", "goal", "turn s p50/p95", "errors", "$/goal", "SLOs"], rows)
    if result.stopped_early:
        lines += [f"Stopped early: {cell(result.stopped_early)}", ""]
    if report is not None:
        lines += [f"### The whole run — grade **{report.grade or '–'}**", ""]
        lines += table(["", ""], _run_rows(report))
    lines += comparison_section(comparison, knee)
    if report is not None and report.run_dir is not None:
        lines += worst_section(worst_conversations([(report.run_dir, None, "")], worst), turns)
    return "\n".join(lines)


def pipeline_comparison_section(results: PipelineResults, baseline: PipelineResults | None) -> list[str]:
    """Each scenario of the pipeline against the same scenario of the baseline pipeline."""
    if baseline is None:
        return []
    from convoload.report.pipeline_compare import compare_pipelines, regression_count

    changes = compare_pipelines(baseline, results)
    rows: list[list[str]] = []
    for change in changes:
        if change.before is None:
            rows.append([change.name, "grade", "–", change.grade, "new scenario", ""])
            continue
        verdict = "❌ lower" if change.grade_dropped else "ok"
        rows.append([change.name, "grade", change.before, change.grade, "", verdict])
        for m in change.metrics:
            verdict = "❌ regression" if m.regression else "ok"
            rows.append([change.name, m.name, m.shown(m.a), m.shown(m.b), m.delta_text, verdict])
    lines = [f"### Compared with baseline `{baseline.pipeline_id}`", ""]
    lines += table(["scenario", "metric", "baseline", "this pipeline", "delta", ""], rows)
    regressions = regression_count(changes)
    if regressions:
        lines += [f"**{regressions} regression(s)** against the baseline.", ""]
    else:
        lines += ["No regression against the baseline.", ""]
    return lines


def pipeline_summary(
    results: PipelineResults,
    verdict: Callable[[str, ConversationRecord], bool],
    *,
    baseline: PipelineResults | None = None,
    worst: int = WORST,
    turns: int = TURNS,
) -> str:
    """A pipeline in Markdown: its overall grade and numbers, a row per scenario, the comparison with a
    baseline pipeline's scenarios, the worst conversations of all of them (judged by their scenario's
    own success rule)."""
    overall = results.overall
    lines = [f"## convoload pipeline `{results.pipeline_id}` — grade **{overall.grade}**", ""]
    latency = overall.latency_ms
    lines += table(
        ["", ""],
        [
            [
                "success rate",
                f"{_pct(overall.success_rate)} ({overall.successful} of {overall.conversations})",
            ],
            ["turn latency p50 / p95", f"{_seconds(latency.p50)} / {_seconds(latency.p95)}"],
            ["health", overall.health],
            *([["complete", "no: stopped early (grade capped)"]] if not results.complete else []),
        ],
    )
    rows = [
        [
            s.name,
            s.grade,
            f"{_pct(s.success_rate)} ({s.successful}/{s.conversations})",
            _seconds(s.latency_ms.p95),
            s.health,
        ]
        for s in results.scenarios
    ]
    lines += table(["scenario", "grade", "success", "turn p95", "health"], rows)
    if results.skipped_scenarios:
        lines += [f"Not started: {cell(', '.join(results.skipped_scenarios))}", ""]
    lines += pipeline_comparison_section(results, baseline)
    if overall.recommendations:
        lines += ["### Recommendations", ""]
        lines += [f"- {cell(r)}" for r in overall.recommendations[:5]] + [""]

    def runs() -> Iterator[tuple[Path, Verdict | None, str]]:
        for scenario in results.scenarios:
            for folder in scenario.runs:
                name = scenario.name
                yield Path(folder), (lambda record, name=name: verdict(name, record)), name

    lines += worst_section(worst_conversations(runs(), worst), turns)
    return "\n".join(lines)


def step_summary_wanted() -> bool:
    """Whether this is a GitHub Actions step with a job summary to append to."""
    return bool(os.environ.get(STEP_SUMMARY_ENV))


def publish_summary(markdown: str, path: Path | None) -> list[Path]:
    """Write the summary to `path` (when given) and append it to `$GITHUB_STEP_SUMMARY` (when set);
    the files written."""
    written: list[Path] = []
    text = markdown.rstrip("\n") + "\n"
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
        written.append(path)
    step = os.environ.get(STEP_SUMMARY_ENV)
    if step:
        with Path(step).open("a", encoding="utf-8") as handle:
            handle.write(text + "\n")
        written.append(Path(step))
    return written
