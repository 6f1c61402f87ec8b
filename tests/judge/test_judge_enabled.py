"""`judge.enabled`: a run judges its own conversations once they have all finished, and its aggregate
holds the verdict; a persona without a rubric is refused before the run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from convoload import api
from convoload.errors import ConfigError
from convoload.judge.runner import JUDGEMENTS_NAME, SUMMARY_NAME
from convoload.model.report import RunReport
from tests.helpers import write

pytestmark = pytest.mark.e2e  # the bundled local provider judges, as a process of its own

RUN = (
    "run: {conversations: 4, concurrency: 2, seed: 5, persona_assignment: round_robin}\n"
    "target: {type: demo, demo: {agent: tickets, reply_delay_s: 0, jitter_s: 0}}\n"
    "store: {enabled: false}\n"
)


def test_an_enabled_judge_judges_the_run_and_the_aggregate_holds_its_verdict(tmp_path: Path) -> None:
    config = write(tmp_path / "run.yaml", RUN + "judge: {enabled: true, rubric: tickets}\n")
    report = api.run(str(config), runs_dir=tmp_path / "runs")
    assert report.run_dir is not None and report.judgement is not None
    judgement = report.judgement
    assert judgement.conversations == 4 and judgement.judged + judgement.judge_errors == 4
    assert judgement.rubrics == ["tickets"] and judgement.usage.llm_calls >= judgement.judged
    lines = (report.run_dir / JUDGEMENTS_NAME).read_text(encoding="utf-8").splitlines()
    assert sorted(json.loads(line)["session_id"] for line in lines) == sorted(
        c.session_id for c in report.iter_conversations()
    )
    written = json.loads((report.run_dir / "aggregate.json").read_text(encoding="utf-8"))
    assert written["judgement"] == json.loads((report.run_dir / SUMMARY_NAME).read_text(encoding="utf-8"))
    assert RunReport.read(report.run_dir).judgement == judgement


def test_the_judge_keyword_switches_the_judge_on_as_the_config_does(tmp_path: Path) -> None:
    config = write(tmp_path / "run.yaml", RUN + "judge: {rubric: tickets}\n")
    report = api.run(str(config), runs_dir=tmp_path / "runs", judge=True)
    assert report.judgement is not None and report.judgement.judged + report.judgement.judge_errors == 4
    assert api.load(str(config), judge=False).judge.enabled is False


def test_without_the_judge_the_aggregate_says_nothing_of_it(tmp_path: Path) -> None:
    report = api.run(str(write(tmp_path / "run.yaml", RUN)), runs_dir=tmp_path / "runs")
    assert report.judgement is None and report.run_dir is not None
    assert "judgement" not in json.loads((report.run_dir / "aggregate.json").read_text(encoding="utf-8"))
    assert not (report.run_dir / JUDGEMENTS_NAME).exists()


def test_a_rubric_that_does_not_load_is_refused_before_any_conversation(tmp_path: Path) -> None:
    config = write(tmp_path / "run.yaml", RUN + "judge: {enabled: true, rubric: no-such-rubric}\n")
    with pytest.raises(ConfigError, match="no-such-rubric"):
        api.run(str(config), runs_dir=tmp_path / "runs")
    journals = list((tmp_path / "runs").glob("*/journal.jsonl"))
    assert all(path.stat().st_size == 0 for path in journals)


def test_the_console_summary_says_what_the_judge_found(tmp_path: Path) -> None:
    from rich.console import Console

    from convoload.model.judgement import JudgementSummary
    from convoload.report.console import print_summary

    judgement = JudgementSummary(
        run_id="r", conversations=5, judged=4, judge_errors=1, passed=3, pass_rate=0.75
    )
    console = Console(record=True, width=120)
    print_summary(
        console, {"summary": {"total_conversations": 5}, "judgement": judgement.model_dump(mode="json")}
    )
    assert "passed 3 of 4 judged (75.0%), 1 judge errors" in console.export_text()
