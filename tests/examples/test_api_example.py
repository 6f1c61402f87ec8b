"""The docs' "A config built in code" example (docs/guides/python.md), examples/api/in_code.py, runs as
written: a config built in code with a persona file, a goal, a python target and a simulated user of its
own, one conversation with `converse` and a run whose report, folder and conversations it reads."""

import subprocess
import sys
from pathlib import Path

import pytest

from convoload import RunReport
from convoload.store.journal import read_journal
from tests.helpers import REPO, docs_blocks

EXAMPLE = REPO / "examples" / "api" / "in_code.py"


def test_the_docs_show_the_example_as_it_is() -> None:
    shown = docs_blocks("guides/python.md", "## A config built in code")
    assert shown["python"] == EXAMPLE.read_text(encoding="utf-8"), "the docs' example is not in_code.py"
    assert shown["yaml"] == EXAMPLE.with_name("bia.yaml").read_text(encoding="utf-8")


@pytest.mark.e2e
def test_the_example_runs_as_written(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLE)], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr  # its own asserts ran too
    said, graded = result.stdout.splitlines()
    assert said.startswith("['hello', '2 croissants, please'] Order confirmed: 2 croissants")
    grade, rate, run_dir = graded.split()
    assert grade.startswith("A") and float(rate) == 1.0
    report = RunReport.read(run_dir)
    assert Path(run_dir).parent == tmp_path / "runs" and report.summary.total_conversations == 4
    conversations = [d for d in (tmp_path / "runs").iterdir() if d.is_dir()]
    assert len(conversations) == 2  # converse's run and run's
    (one,) = read_journal(min(conversations) / "journal.jsonl")
    assert one.persona == "Bia" and one.goal_reached
    assert [t.user_text for t in one.turns] == ["hello", "2 croissants, please"]
