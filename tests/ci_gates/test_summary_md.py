"""--summary-md: the Markdown a CI page shows, and $GITHUB_STEP_SUMMARY."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from convoload.model import Outcome
from convoload.model.pipeline import PipelineOverall, PipelineResults, ScenarioResult
from convoload.report.summary_md import (
    STEP_SUMMARY_ENV,
    pipeline_summary,
    publish_summary,
    run_summary,
    worst_conversations,
)
from convoload.store.results.compare import compare_runs
from convoload.store.results.stats import RunRow
from tests.ci_gates.runs import conversation, mixed_conversations, write_run


def row(run_id: str, success_rate: float, p95_ms: float) -> RunRow:
    return RunRow(
        run_id=run_id,
        started_at="2026-12-05T10:00:00Z",
        finished_at="2026-12-05T10:01:00Z",
        status="finished",
        conversations=10,
        successful=round(10 * success_rate),
        failed=0,
        success_rate=success_rate,
        error_rate=0.0,
        turn_p50_ms=p95_ms / 2,
        turn_p95_ms=p95_ms,
        conversation_p95_ms=10 * p95_ms,
        cost_usd=0.01,
    )


def test_a_run_summary_has_grade_numbers_comparison_and_worst_transcripts_failed_first(
    tmp_path: Path,
) -> None:
    report = write_run(tmp_path / "run-a", mixed_conversations())
    comparison = compare_runs(row("main-1", 0.9, 1000.0), row("run-a", 0.25, 1000.0))
    markdown = run_summary(report, comparison=comparison, worst=3)
    assert markdown.startswith("## convoload run `run-a` — grade **D**")
    assert "| goal rate | 25.00% (1 of 4) |" in markdown
    assert "| turn latency p50 / p95 | 0.12 s / 0.12 s |" in markdown
    assert "| errors | http_status 1 |" in markdown
    assert "### Compared with baseline `main-1`" in markdown
    assert "| success rate | 90.00% | 25.00% | -65.00 pts | ❌ regression |" in markdown
    assert "| turn p95 | 1,000.0 ms | 1,000.0 ms | +0.0 ms (+0.0%) | ok |" in markdown
    assert "**2 regression(s)** against the baseline." in markdown  # success rate, cost per success
    # Failed first: the target's error, then the goal missed, then the one that passed.
    titles = re.findall(r"<summary>(.*)</summary>", markdown)
    assert titles == [
        "❌ Kataryna #3 — http_status: HTTP 500 from the agent (after 2 turns) (3.0 s)",
        "❌ Edman #2 — goal not reached: max_iterations after 5 turns (2.0 s)",
        "✅ Talliz #1 — passed (1.0 s)",
    ]
    first = markdown.split("<details>")[1]
    assert "```text\n[1] user: mensagem 1 de Kataryna" in first
    assert "[2] error http_status 500: HTTP 500 from the agent\n```" in first
    assert markdown.count("<details>") == markdown.count("</details>") == 3


def test_a_transcript_with_backticks_or_markup_cannot_break_out_of_its_block(tmp_path: Path) -> None:
    reply = "use ```` e <details> </details> | pipes"
    report = write_run(
        tmp_path / "run-a",
        [conversation(1, Outcome.MAX_ITERATIONS, turns=1, reply=reply, persona="<b>Zé</b>")],
    )
    markdown = run_summary(report, worst=1)
    assert "`````text\n" in markdown and "\n`````\n" in markdown  # a fence longer than any in the text
    assert "<summary>❌ &lt;b&gt;Zé&lt;/b&gt; #1" in markdown
    assert markdown.count("</details>") == 2  # the block's own, and the one quoted in the fence


def test_worst_conversations_keeps_only_the_few_it_shows(tmp_path: Path) -> None:
    records = [conversation(i, Outcome.GOAL_REACHED) for i in range(1, 40)]
    records.append(conversation(40, Outcome.MAX_ITERATIONS))
    write_run(tmp_path / "run-a", records)
    worst = worst_conversations([(tmp_path / "run-a", None, "")], 2)
    assert [(w.record.user_id, w.passed) for w in worst] == [(40, False), (39, True)]


def test_the_summary_is_written_and_appended_to_the_github_step_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    step = tmp_path / "step_summary.md"
    step.write_text("## an earlier step\n", encoding="utf-8")
    monkeypatch.setenv(STEP_SUMMARY_ENV, str(step))
    written = publish_summary("## convoload\nbody", tmp_path / "out" / "summary.md")
    assert written == [tmp_path / "out" / "summary.md", step]
    assert (tmp_path / "out" / "summary.md").read_text() == "## convoload\nbody\n"
    assert step.read_text() == "## an earlier step\n## convoload\nbody\n\n"
    monkeypatch.delenv(STEP_SUMMARY_ENV)
    assert publish_summary("x", None) == []


def test_a_pipeline_summary_has_a_row_per_scenario_and_judges_by_each_scenarios_rule(tmp_path: Path) -> None:
    booking = write_run(tmp_path / "b", [conversation(1, Outcome.GOAL_REACHED)], run_id="b")
    refusals = write_run(tmp_path / "r", [conversation(2, Outcome.USER_STOPPED)], run_id="r")
    results = PipelineResults(
        pipeline_id="pipeline-x",
        scenarios=[
            ScenarioResult(
                name="booking",
                conversations=1,
                successful=1,
                success_rate=1.0,
                health="healthy",
                grade="A+",
                runs=[str(booking.run_dir)],
            ),
            ScenarioResult(
                name="bad_input",
                conversations=1,
                successful=1,
                success_rate=1.0,
                health="healthy",
                grade="A",
                runs=[str(refusals.run_dir)],
            ),
        ],
        overall=PipelineOverall(conversations=2, successful=2, success_rate=1.0, health="healthy", grade="A"),
    )
    markdown = pipeline_summary(results, lambda name, record: name == "bad_input" or record.goal_reached)
    assert markdown.startswith("## convoload pipeline `pipeline-x` — grade **A**")
    assert "| booking | A+ | 100.00% (1/1) |" in markdown and "| bad_input | A | 100.00% (1/1) |" in markdown
    # user_stopped passes under bad_input's rule: nothing failed, the slowest comes first.
    assert re.findall(r"<summary>(.*)</summary>", markdown) == [
        "✅ bad_input: Talliz #2 — passed (2.0 s)",
        "✅ booking: Talliz #1 — passed (1.0 s)",
    ]


def test_a_pipeline_summary_compares_each_scenario_with_the_baseline_pipelines() -> None:
    from convoload.model.report import Distribution

    def scenario(name: str, grade: str, rate: float, p95: float) -> ScenarioResult:
        return ScenarioResult(
            name=name,
            success_rate=rate,
            grade=grade,
            health="healthy",
            latency_ms=Distribution(count=10, p50=p95 / 2, p95=p95),
        )

    before = PipelineResults(
        pipeline_id="pipeline-main",
        scenarios=[scenario("booking", "A+", 1.0, 1000.0), scenario("bad_input", "A", 1.0, 500.0)],
        overall=PipelineOverall(health="healthy", grade="A"),
    )
    after = PipelineResults(
        pipeline_id="pipeline-pr",
        scenarios=[
            scenario("booking", "B", 0.9, 1500.0),
            scenario("bad_input", "A", 1.0, 500.0),
            scenario("high_volume", "A", 1.0, 800.0),
        ],
        overall=PipelineOverall(health="degraded", grade="B"),
    )
    markdown = pipeline_summary(after, lambda name, record: True, baseline=before)
    assert "### Compared with baseline `pipeline-main`" in markdown
    assert "| booking | grade | A+ | B |  | ❌ lower |" in markdown
    assert "| booking | success rate | 100.00% | 90.00% | -10.00 pts | ❌ regression |" in markdown
    assert "| booking | turn p95 | 1,000.0 ms | 1,500.0 ms | +500.0 ms (+50.0%) | ❌ regression |" in markdown
    assert "| bad_input | grade | A | A |  | ok |" in markdown
    assert "| high_volume | grade | – | A | new scenario |  |" in markdown
    assert "**4 regression(s)** against the baseline." in markdown  # grade, success, p50, p95
