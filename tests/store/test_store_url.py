"""One rule picks the results store for every command: the URL given (`--db`, `store.url`, the
monitor's `store_url`), else $CONVOLOAD_DB_URL, else `<runs_dir>/results.sqlite`.

Before, five copies decided it and disagreed: `runs list/show/compare` read `runs/results.sqlite`
whatever the runs folder, and a pipeline wrote to a database of its own in `runs/pipeline-<id>/`
that `convoload runs` never found."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from convoload.cli import app
from convoload.cli.runs import db_url
from convoload.config import Config
from convoload.errors import ConfigError
from convoload.load.run_spec import run_store_url
from convoload.monitor.config import MonitorConfig
from convoload.monitor.system import store_origin, store_url
from convoload.pipeline.runner import checked_store_url
from convoload.report.rebuild import rebuild_run, restore_store
from convoload.store.results import ResultsStore
from convoload.store.results.engine import (
    ENV_DB_URL,
    MissingDatabase,
    StoreOrigin,
    default_store_url,
    resolve_store_url,
)
from tests.helpers import REPO, invoke, run_dirs
from tests.store.scenario import fill

SOURCE = REPO / "src" / "convoload"

Resolver = Callable[[str | None, Path], tuple[str, StoreOrigin]]


def _run(explicit: str | None, runs: Path) -> tuple[str, StoreOrigin]:
    config = Config.model_validate({"run": {"runs_dir": str(runs)}, "store": {"url": explicit}})
    chosen = run_store_url(config)
    assert chosen is not None
    return chosen


def _pipeline(explicit: str | None, runs: Path) -> tuple[str, StoreOrigin]:
    return checked_store_url(explicit, runs_dir=runs), StoreOrigin("(not reported)")


def _monitor(explicit: str | None, runs: Path) -> tuple[str, StoreOrigin]:
    config = MonitorConfig.model_validate({"runs_dir": str(runs), "store_url": explicit})
    return store_url(config), store_origin(config)


def _runs_commands(explicit: str | None, runs: Path) -> tuple[str, StoreOrigin]:
    return db_url(explicit, runs)


# What each command calls, with where it says an explicit URL came from (None: it does not say).
COMMANDS: dict[str, tuple[Resolver, StoreOrigin | None]] = {
    "run": (_run, StoreOrigin("(defaults)", "store.url")),
    "pipeline": (_pipeline, None),
    "monitor": (_monitor, StoreOrigin("(defaults)", "store_url")),
    "runs": (_runs_commands, StoreOrigin("--db")),
}


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    return tmp_path / "runs"


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_command_follows_the_same_precedence(
    command: str, runs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    resolver, explicit_origin = COMMANDS[command]
    default = f"sqlite:///{runs / 'results.sqlite'}"
    from_env = f"sqlite:///{tmp_path / 'env' / 'env.sqlite'}"
    given = f"sqlite:///{tmp_path / 'given' / 'given.sqlite'}"

    monkeypatch.delenv(ENV_DB_URL, raising=False)
    assert resolver(None, runs)[0] == default
    monkeypatch.setenv(ENV_DB_URL, "")  # set but empty: as if unset
    assert resolver(None, runs)[0] == default

    monkeypatch.setenv(ENV_DB_URL, from_env)
    url, origin = resolver(None, runs)
    assert url == from_env
    if explicit_origin is not None:
        assert origin == StoreOrigin(ENV_DB_URL)

    url, origin = resolver(given, runs)  # the explicit value wins over the variable
    assert url == given
    if explicit_origin is not None:
        assert origin == explicit_origin


def test_the_rule_itself_and_its_origins(runs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    flag, folder = StoreOrigin("--db"), StoreOrigin("--runs-dir")
    monkeypatch.delenv(ENV_DB_URL, raising=False)
    assert resolve_store_url(None, flag, runs_dir=runs, default_origin=folder) == (
        default_store_url(runs),
        folder,
    )
    assert resolve_store_url("", flag, runs_dir=runs, default_origin=folder)[1] is folder
    assert default_store_url(Path("runs")) == f"sqlite:///{Path.cwd() / 'runs' / 'results.sqlite'}"
    monkeypatch.setenv(ENV_DB_URL, "sqlite://")
    assert resolve_store_url(None, flag, runs_dir=runs, default_origin=folder) == (
        "sqlite://",
        StoreOrigin(ENV_DB_URL),
    )
    assert resolve_store_url("sqlite:///x.db", flag, runs_dir=runs) == ("sqlite:///x.db", flag)


def test_a_bad_url_is_one_line_naming_where_it_came_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "afile").write_text("x")
    under_a_file = tmp_path / "afile" / "runs"
    flag, folder = StoreOrigin("cfg.yaml", "store.url"), StoreOrigin("cfg.yaml", "run.runs_dir")
    monkeypatch.delenv(ENV_DB_URL, raising=False)
    cases = [
        ("notaurl", None, "cfg.yaml: store.url: not a database URL"),
        (None, "foo://x", "CONVOLOAD_DB_URL: unknown database 'foo'"),
        (None, None, "cfg.yaml: run.runs_dir: cannot create"),
    ]
    for explicit, env, expected in cases:
        if env is None:
            monkeypatch.delenv(ENV_DB_URL, raising=False)
        else:
            monkeypatch.setenv(ENV_DB_URL, env)
        with pytest.raises(ConfigError) as refused:
            resolve_store_url(explicit, flag, runs_dir=under_a_file, default_origin=folder, check=True)
        assert str(refused.value).startswith(expected) and "\n" not in str(refused.value)
    # Without `check` nothing is looked at: a reader (runs list) opens without creating.
    assert resolve_store_url("notaurl", flag, runs_dir=under_a_file)[0] == "notaurl"


@pytest.mark.e2e
@pytest.mark.parametrize("env", [False, True], ids=["default", "CONVOLOAD_DB_URL"])
def test_run_runs_report_pipeline_and_monitor_meet_in_the_same_database(
    env: bool, tmp_path: Path, local_app, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real `convoload run` writes a database; every other command finds it with the same inputs."""
    agent = local_app(lambda environ, body: (200, {"reply": "ok"}))
    runs = tmp_path / "runs"
    default_file = runs / "results.sqlite"
    env_file = tmp_path / "shared" / "env.sqlite"
    env_url = f"sqlite:///{env_file}" if env else ""
    done = invoke(
        "run", "--url", f"{agent.url}/chat", "-n", "1", cwd=tmp_path, env={ENV_DB_URL: env_url}
    )  # no --runs-dir: ./runs, as `convoload runs` assumes without one
    assert done.returncode == 0, done.stderr[-3000:]
    [run_dir] = run_dirs(runs)
    written = env_file if env else default_file
    assert written.is_file()
    assert not (default_file if env else env_file).exists()

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(ENV_DB_URL, env_url)
    url = f"sqlite:///{written}"
    for command, (resolver, _) in COMMANDS.items():
        assert resolver(None, Path("runs"))[0] == url, command
        assert resolver(None, runs)[0] == url, command
    runner = CliRunner()
    for args in (["runs", "list"], ["runs", "list", "--runs-dir", str(runs)], ["runs", "show", run_dir.name]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, (args, result.output)
        assert run_dir.name in result.output, args
    # `report` completes that same database (0 conversations missing; None: no database had the run).
    assert restore_store(run_dir, rebuild_run(run_dir)) == 0
    with ResultsStore(url, create=False) as store:
        assert store.get_run(run_dir.name) is not None


def test_runs_commands_default_to_their_runs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_DB_URL, raising=False)
    monkeypatch.chdir(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    with ResultsStore(default_store_url(elsewhere)) as store:
        fill(store)
    runner = CliRunner()
    result = runner.invoke(app, ["runs", "show", "a1b2", "--runs-dir", str(elsewhere)])
    assert result.exit_code == 0 and "run a1b2-base" in result.output, result.output
    result = runner.invoke(app, ["runs", "list"])  # ./runs has no database: said, not created
    assert isinstance(result.exception, MissingDatabase)
    assert str(result.exception).startswith(f"--runs-dir: no results database at {tmp_path / 'runs'}")
    assert not (tmp_path / "runs").exists()


def _deciding_strings(tree: ast.Module) -> list[tuple[int, str]]:
    """String constants outside docstrings and help/description texts (those may name the rule)."""
    documentation: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                documentation.add(id(body[0].value))
        if isinstance(node, ast.keyword) and node.arg in ("help", "description"):
            documentation.update(id(inner) for inner in ast.walk(node.value))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in documentation
    ]


def test_only_the_engine_knows_the_default_file_and_reads_the_variable() -> None:
    engine = SOURCE / "store" / "results" / "engine.py"
    offenders = []
    for path in sorted(SOURCE.rglob("*.py")):
        if path == engine:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for line, text in _deciding_strings(tree):
            if "results.sqlite" in text or ENV_DB_URL in text:
                offenders.append(f"{path.relative_to(REPO)}:{line}: {text!r}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Call | ast.Subscript):
                code = ast.unparse(node)
                if ("environ" in code or "getenv" in code) and ("ENV_DB_URL" in code or ENV_DB_URL in code):
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno}: {code}")
    assert offenders == []
    assert "results.sqlite" in engine.read_text() and ENV_DB_URL in engine.read_text()
