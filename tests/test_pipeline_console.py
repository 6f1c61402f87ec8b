"""The pipeline's terminal output: readable at 80 columns (a block per scenario), one table when wide."""

from __future__ import annotations

import re
from contextlib import ExitStack

import pytest
from rich.console import Console

from convoload.model import PipelineResults
from convoload.pipeline import SUITES, Scenario
from convoload.pipeline.runner import run_pipeline, start_suite_system
from convoload.report.console import print_pipeline

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

SCENARIOS = [
    Scenario(name="basic_user_journey", conversations=1, personas=["renata"]),
    Scenario(
        name="error_handling_resilience_with_mixed_language_input",
        conversations=1,
        success="graceful",
        scripts=[["", "hello, tudo bem?"]],
    ),
]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> PipelineResults:
    suite = SUITES.get("realestate").with_scenarios(SCENARIOS)
    with ExitStack() as resources:
        system = start_suite_system(suite, resources, options={"listings": 300})
        return run_pipeline(suite, system, runs_dir=tmp_path_factory.mktemp("runs"), repeat=2)


def _render(results: PipelineResults, width: int) -> list[str]:
    console = Console(width=width, record=True, color_system=None)
    print_pipeline(console, results)
    return console.export_text().splitlines()


def _words(lines: list[str]) -> set[str]:
    return {w for line in lines for w in re.split(r"[\s│┃·]+", line) if w}


def test_every_scenario_reads_whole_in_80_columns(results: PipelineResults) -> None:
    lines = _render(results, 80)
    assert max(len(line) for line in lines) <= 80
    words = _words(lines)
    for name, r in [*((s.name, s) for s in results.scenarios), ("overall", results.overall)]:
        assert name in words, name
        block = lines[[line.split()[:1] for line in lines].index([name]) :][:3]
        assert re.search(rf"^{name}\s+{re.escape(r.grade)}\s+{r.health}$", block[0]), block
        assert f"success {r.successful}/{r.conversations} " in block[1], block
        assert "coherence" in block[2] and "experience" in block[2], block
    assert sum("pass^2 1.00" in line for line in lines) == len(results.scenarios)


def test_the_results_file_prints_as_the_results_do(results: PipelineResults) -> None:
    # `print_pipeline` takes the file's document too (what `convoload pipeline --json` printed).
    assert results.folder is not None
    read = PipelineResults.read(results.folder)
    document = {**read.to_document(), "folder": str(results.folder)}
    for width in (80, 200):
        assert _render(document, width) == _render(results, width) == _render(read, width)


def test_a_wide_terminal_gets_one_table(results: PipelineResults) -> None:
    lines = _render(results, 200)
    header = next(line for line in lines if "scenario" in line)
    assert re.split(r"[\s┃]+", header.strip(" ┃")) == [
        "scenario",
        "success",
        "p50",
        "p95",
        "coherence",
        "coordination",
        "data",
        "experience",
        "health",
        "grade",
        "pass^k",
    ]
    for r in results.scenarios:
        row = next(line for line in lines if f" {r.name} " in line)
        cells = [c.strip() for c in row.strip("│").split("│")]
        assert (cells[0], cells[1], cells[9]) == (r.name, f"{r.successful}/{r.conversations}", r.grade)
        assert r.pass_k is not None and cells[10] == f"{r.pass_k.value:.2f} (k=2)"
    assert max(len(line) for line in lines) <= 200


def test_folder_is_printed(results: PipelineResults) -> None:
    text = "".join(_render(results, 200))
    assert results.folder is not None
    assert str(results.folder / "real_test_results.json") in text
