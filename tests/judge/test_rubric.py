"""Rubrics: parsed and validated from YAML, refused in one line naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from convoload.errors import ConfigError
from convoload.judge.rubric import RUBRICS, load_rubric, load_rubric_file, parse_rubric
from tests.helpers import error_line, invoke, write
from tests.judge.helpers import shipped, write_journal

GOOD = """
name: mine
criteria:
  - id: goal
    description: the customer got a payment link
    scale: 1-5
    weight: 2
  - id: facts
    description: no invented price
    scale: pass_fail
"""
ONE = "name: r\ncriteria:\n  - {id: a, description: abc, scale: 1-5}\n"


def test_a_rubric_is_read_with_defaults(tmp_path: Path) -> None:
    rubric = load_rubric_file(write(tmp_path / "r.yaml", GOOD))
    goal, facts = rubric.criteria
    assert (goal.scale.min, goal.scale.max, goal.threshold, goal.weight) == (1, 5, 3, 2.0)
    assert (facts.scale.pass_fail, facts.scale.min, facts.scale.max, facts.threshold) == (True, 0, 1, 1)
    assert rubric.pass_rule.mode == "all"


def test_the_shipped_rubrics_load_by_name() -> None:
    assert {"tickets", "realestate"} <= set(RUBRICS.names())
    realestate = load_rubric("realestate")
    ids = [c.id for c in realestate.criteria]
    assert "no_invented_listings" in ids and "customer_language" in ids
    assert realestate.pass_rule.mode == "weighted_mean" and realestate.reference
    assert load_rubric("tickets").criteria[0].id == "goal_resolved"


def test_pass_rule_all_and_weighted_mean() -> None:
    base = {
        "name": "r",
        "criteria": [
            {"id": "a", "description": "first one", "scale": "1-5", "weight": 3},
            {"id": "b", "description": "second one", "scale": "pass_fail"},
        ],
    }
    every = parse_rubric(base, "r.yaml")
    assert every.passes({"a": 3, "b": 1}) and not every.passes({"a": 2, "b": 1})
    assert not every.passes({"a": 5, "b": 0})
    mean = parse_rubric({**base, "pass_rule": {"mode": "weighted_mean", "threshold": 0.7}}, "r.yaml")
    # (3 * (4-1)/4 + 1 * 0) / 4 = 0.5625; (3 * 1 + 0) / 4 = 0.75
    assert mean.weighted_score({"a": 4, "b": 0}) == pytest.approx(0.5625)
    assert not mean.passes({"a": 4, "b": 0}) and mean.passes({"a": 5, "b": 0})
    strict = parse_rubric(
        {**base, "pass_rule": {"mode": "weighted_mean", "threshold": 0.7, "must_pass": ["b"]}}, "r.yaml"
    )
    assert not strict.passes({"a": 5, "b": 0}) and strict.passes({"a": 4, "b": 1})


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("name: r\ncriteria: []\n", "criteria", "at least 1"),
        ("name: r\ncriteria:\n  - {id: a, description: abc, scale: 5-1}\n", "criteria.0.scale", "must go up"),
        (
            "name: r\ncriteria:\n  - {id: a, description: abc, scale: often}\n",
            "criteria.0.scale",
            "not a scale",
        ),
        ("name: r\ncriteria:\n  - {id: Bad-Id, description: abc, scale: 1-5}\n", "criteria.0.id", "snake"),
        (
            "name: r\ncriteria:\n  - {id: a, description: abc, scale: 1-5, pass_at: 9}\n",
            "criteria.0",
            "outside",
        ),
        (
            "name: r\ncriteria:\n  - {id: a, description: abc, scale: 1-5, colour: red}\n",
            "criteria.0.colour",
            "unknown field",
        ),
        (
            ONE + "pass_rule: {mode: weighted_mean}\n",
            "pass_rule",
            "needs a threshold",
        ),
        (
            ONE + "  - {id: a, description: abc, scale: 1-5}\n",
            "",
            "used twice",
        ),
        (
            ONE + "pass_rule: {must_pass: [z]}\n",
            "",
            "no criterion",
        ),
    ],
)
def test_a_malformed_rubric_is_one_error_naming_file_and_field(
    tmp_path: Path, text: str, field: str, message: str
) -> None:
    path = write(tmp_path / "bad.yaml", text)
    with pytest.raises(ConfigError) as caught:
        load_rubric_file(path)
    assert caught.value.source == str(path)
    assert caught.value.field == field
    assert message in caught.value.message
    assert "\n" not in str(caught.value)


def test_the_cli_refuses_a_bad_rubric_with_exit_2(tmp_path: Path) -> None:
    run_dir = write_journal(tmp_path / "runs" / "r1", shipped("tickets")[:1])
    rubric = write(tmp_path / "bad.yaml", "name: r\ncriteria:\n  - {id: a, description: abc, scale: 9-1}\n")
    line = error_line(invoke("judge", str(run_dir), "--rubric", str(rubric), cwd=tmp_path))
    assert line.startswith(f"{rubric}: criteria.0.scale: ")
    assert not (run_dir / "judgements.jsonl").exists()


def test_the_cli_names_an_unknown_rubric(tmp_path: Path) -> None:
    run_dir = write_journal(tmp_path / "runs" / "r1", shipped("tickets")[:1])
    line = error_line(invoke("judge", "run", str(run_dir), "--rubric", "insurance", cwd=tmp_path))
    assert "unknown rubric 'insurance'" in line and "realestate" in line and "tickets" in line


def test_a_config_rubric_path_that_does_not_exist_is_named(tmp_path: Path) -> None:
    run_dir = write_journal(tmp_path / "runs" / "r1", shipped("tickets")[:1])
    config = write(tmp_path / "c.yaml", "judge:\n  rubric: rubrics/none.yaml\n")
    line = error_line(invoke("judge", str(run_dir), "-f", str(config), cwd=tmp_path))
    assert line.startswith(f"{config}: judge.rubric: ") and "none.yaml" in line


def test_a_bad_judge_section_is_refused(tmp_path: Path) -> None:
    config = write(tmp_path / "c.yaml", "judge:\n  llm: nothing\n")
    run_dir = write_journal(tmp_path / "runs" / "r1", shipped("tickets")[:1])
    line = error_line(invoke("judge", str(run_dir), "-f", str(config), cwd=tmp_path))
    assert line.startswith(f"{config}: judge.llm: ") and "PROVIDER/MODEL" in line


def test_which_rubric_judges_a_persona(tmp_path: Path) -> None:
    from convoload.config import Config
    from convoload.judge.setup import RubricChooser

    assert RubricChooser(Config()).spec_for("Renata") == ("realestate", "the persona's playbook")
    assert RubricChooser(Config()).spec_for("Kataryna") == ("tickets", "the persona's playbook")
    assert RubricChooser(Config()).spec_for("Someone") == ("tickets", "target.demo.agent")
    config = Config.model_validate({"judge": {"rubric": "mine.yaml", "personas": {"Renata": "tickets"}}})
    assert RubricChooser(config).spec_for("Renata") == ("tickets", "judge.personas.Renata")
    assert RubricChooser(config).spec_for("Ricardo") == ("mine.yaml", "judge.rubric")
    assert RubricChooser(config, "realestate").spec_for("Renata") == ("realestate", "--rubric")
    outside = Config.model_validate({"target": {"type": "http", "url": "http://127.0.0.1:1/chat"}})
    with pytest.raises(ConfigError) as caught:
        RubricChooser(outside).spec_for("Someone")
    assert caught.value.field == "judge.rubric" and "Someone" in caught.value.message
