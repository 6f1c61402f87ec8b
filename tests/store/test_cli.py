"""`convoload runs list|show|compare` through the typer app."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from convoload.cli.runs import runs_app
from convoload.errors import ConfigError
from convoload.store.results import ResultsStore
from tests.store.scenario import fill

runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'results.sqlite'}"
    with ResultsStore(url) as store:
        fill(store)
    return url


def test_list(db: str) -> None:
    result = runner.invoke(runs_app, ["list", "--db", db])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    order = [next(i for i, line in enumerate(lines) if run in line) for run in ("c3e5", "c3d4", "a1b2")]
    assert order == sorted(order)  # newest first
    base = next(line for line in lines if "a1b2-base" in line)
    assert "40.00%" in base and "480.0 ms" in base and "$0.0500" in base and "finished" in base


def test_list_limit_and_env_default(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVOLOAD_DB_URL", db)
    result = runner.invoke(runs_app, ["list", "--limit", "1"])
    assert result.exit_code == 0, result.output
    assert "c3e5-fast" in result.output and "a1b2-base" not in result.output


def test_show(db: str) -> None:
    result = runner.invoke(runs_app, ["show", "a1b2", "--db", db])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "run a1b2-base" in out
    assert "2 (40.00%)" in out and "1 (20.00%)" in out  # successful, failed
    assert "3,850.0 ms" in out  # conversation p95
    assert "Buyer" in out and "Renter" in out and "timeout" in out
    pii = next(line for line in out.splitlines() if "pii" in line)
    assert "critical" in pii and "2" in pii


def test_compare_regression_exits_1(db: str) -> None:
    result = runner.invoke(runs_app, ["compare", "a1b2", "c3d4", "--db", db])
    assert result.exit_code == 1, result.output
    p95 = next(line for line in result.output.splitlines() if "turn p95" in line)
    assert "480.0 ms" in p95 and "960.0 ms" in p95 and "+100.0%" in p95 and "REGRESSION" in p95
    cost = next(line for line in result.output.splitlines() if "cost per conversation" in line)
    assert "REGRESSION" not in cost
    per_success = next(line for line in result.output.splitlines() if "cost per success" in line)
    assert "REGRESSION" in per_success  # the same cost over fewer goals
    assert "5 regression(s)" in result.output


def test_compare_improvement_exits_0(db: str) -> None:
    result = runner.invoke(runs_app, ["compare", "a1b2", "c3e5", "--db", db])
    assert result.exit_code == 0, result.output
    assert "REGRESSION" not in result.output
    success = next(line for line in result.output.splitlines() if "success rate" in line)
    assert "+35.00 pts" in success


@pytest.mark.parametrize("args", [["show", "nope"], ["compare", "a1b2", "nope"]])
def test_unknown_run_is_a_config_error(db: str, args: list[str]) -> None:
    result = runner.invoke(runs_app, [*args, "--db", db])
    assert result.exit_code != 0
    assert isinstance(result.exception, ConfigError)
    message = str(result.exception)
    assert "'nope'" in message and "not found" in message and "\n" not in message
