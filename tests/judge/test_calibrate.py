"""Calibration: Cohen's kappa (checked by hand), the shipped labelled set, `convoload judge calibrate`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from convoload.config import Config
from convoload.judge.calibrate import agreement, cohen_kappa, judge_labelled
from convoload.judge.rubric import load_rubric
from convoload.judge.setup import RubricChooser
from convoload_demo.llmserver import LocalLLMServer
from tests.helpers import error_line, invoke, write
from tests.judge.helpers import local_judge, shipped


def test_kappa_of_a_hand_computed_example() -> None:
    # 50 items: both yes 20, A yes B no 5, A no B yes 10, both no 15.
    # p_o = 35/50 = 0.7; A says yes 25/50, B 30/50: p_e = 0.5*0.6 + 0.5*0.4 = 0.5; kappa = 0.2/0.5 = 0.4
    a = ["yes"] * 20 + ["yes"] * 5 + ["no"] * 10 + ["no"] * 15
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)


def test_kappa_limits() -> None:
    assert cohen_kappa([True, False, True], [True, False, True]) == pytest.approx(1.0)
    # always opposite, each half and half: p_o = 0, p_e = 0.5, kappa = -1
    assert cohen_kappa([1, 0, 1, 0], [0, 1, 0, 1]) == pytest.approx(-1.0)
    assert cohen_kappa([1, 1, 1], [1, 1, 1]) is None  # chance agrees fully: undefined
    assert cohen_kappa([], []) is None
    with pytest.raises(ValueError):
        cohen_kappa([1], [1, 0])


def test_the_shipped_labelled_set() -> None:
    sets = {name: shipped(name) for name in ("tickets", "realestate")}
    assert sum(len(items) for items in sets.values()) >= 30
    for name, items in sets.items():
        rubric = load_rubric(name)
        assert len({i.id for i in items}) == len(items)
        assert any(i.id.split("-", 2)[2].startswith("good") for i in items)
        for c in rubric.criteria:  # every criterion has conversations that pass it and that fail it
            verdicts = {c.passes(i.labels[c.id]) for i in items}
            assert verdicts == {True, False}, (name, c.id)
        for item in items:  # real conversations of the agent: its replies, turn by turn
            record = item.record()
            assert record.turns and all(t.reply_text for t in record.turns)


@pytest.mark.e2e
def test_the_offline_judge_agrees_with_the_labels(llm: LocalLLMServer) -> None:
    items = shipped("tickets") + shipped("realestate")
    rows = judge_labelled(items, local_judge(llm), RubricChooser(Config()), concurrency=4)
    result = agreement(rows, "local/judge")
    assert result.judged == len(items) and not result.judge_errors
    # the figures /tmp/team/readme_judge.md quotes for the README
    assert result.pooled.items == 205 and result.pooled.agreed == 202
    assert result.pooled.kappa == pytest.approx(0.933, abs=0.001)
    assert (result.overall.agreed, result.overall.items) == (38, 41)
    assert result.overall.kappa == pytest.approx(0.854, abs=0.001)
    # the hard cases a keyword judge misses stay in the set: it is not fitted to it
    assert len(result.disagreements) == 3


@pytest.mark.e2e
def test_calibrate_command_reports_kappa(tmp_path: Path) -> None:
    ran = invoke("judge", "calibrate", "--labels", "tickets", "--disagreements", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert "calibration on tickets (local/judge)" in ran.stdout
    assert "kappa" in ran.stdout and "overall pass" in ran.stdout and "all criteria (pooled)" in ran.stdout
    assert "differs: tickets-15-impatient whatsapp_tone" in ran.stdout


def test_calibrate_refuses_a_bad_labelled_set(tmp_path: Path) -> None:
    item = shipped("tickets")[0].model_dump()
    item["labels"]["whatsapp_tone"] = 9
    path = write(tmp_path / "labels.jsonl", json.dumps(item) + "\n")
    line = error_line(invoke("judge", "calibrate", "--labels", str(path), cwd=tmp_path))
    assert line == f"labelled conversation {item['id']}: labels.whatsapp_tone: 9 is outside the scale 1-5"
    bad = write(tmp_path / "bad.jsonl", '{"id": "x"}\n')
    line = error_line(invoke("judge", "calibrate", "--labels", str(bad), cwd=tmp_path))
    assert line.startswith(f"{bad}:1: rubric: ")


def test_calibrate_names_an_unknown_set(tmp_path: Path) -> None:
    line = error_line(invoke("judge", "calibrate", "--labels", "insurance", cwd=tmp_path))
    assert "unknown rubric 'insurance'" in line


@pytest.mark.parametrize("command", ["judge", "judge run", "judge calibrate"])
def test_judge_commands_have_help(command: str) -> None:
    ran = invoke(*command.split(), "--help")
    assert ran.returncode == 0 and "Usage:" in ran.stdout and "judge" in ran.stdout
    assert len(ran.stdout) > 400
