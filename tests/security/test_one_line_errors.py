"""Bad results-store URLs, ports and an exposed dashboard without a token: one line, exit 2, and before
anything starts. Before, each was a traceback (a store URL only after the conversations had run)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from convoload.errors import ConfigError
from convoload.monitor.config import MonitorConfig, require_dashboard_token
from convoload.monitor.dashboard.settings import TOKEN_ENV
from tests.helpers import error_line, free_port, invoke, run_dirs, spawn, write

DB_PASSWORD = "s3cr3t-db-pw"


def missing(module: str) -> bool:
    return importlib.util.find_spec(module) is None


def not_a_folder(tmp_path: Path) -> str:
    """A SQLite URL whose folder can never be created, even by root: its parent is a file."""
    (tmp_path / "afile").write_text("x")
    return f"sqlite:///{tmp_path / 'afile' / 'sub' / 'results.sqlite'}"


# -- convoload runs list / show / compare ------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "url", "expected"),
    [
        (["runs", "list"], "notaurl", "not a database URL"),
        (["runs", "show", "abc"], "foo://db.example/x", "unknown database 'foo'"),
        (["runs", "compare", "a", "b"], "http://not-a-database.example/", "unknown database 'http'"),
        pytest.param(
            ["runs", "list"],
            f"postgresql+psycopg2://u:{DB_PASSWORD}@127.0.0.1:1/x",
            "the driver for postgresql+psycopg2 is not installed",
            marks=pytest.mark.skipif(not missing("psycopg2"), reason="psycopg2 is installed here"),
        ),
        pytest.param(
            ["runs", "compare", "a", "b"],
            "mysql://u@127.0.0.1/x",
            "the driver for mysql is not installed",
            marks=pytest.mark.skipif(not missing("MySQLdb"), reason="MySQLdb is installed here"),
        ),
        (["runs", "list"], "sqlite:////nonexistent-dir-convoload/x.sqlite", "no results database at"),
    ],
)
@pytest.mark.parametrize("given_by", ["--db", "CONVOLOAD_DB_URL"])
def test_runs_commands_name_the_bad_url_source(monkeypatch, command, url, expected, given_by):
    if given_by == "--db":
        monkeypatch.delenv("CONVOLOAD_DB_URL", raising=False)
        args = [*command, "--db", url]
    else:
        monkeypatch.setenv("CONVOLOAD_DB_URL", url)
        args = command
    line = error_line(invoke(*args))
    assert line.startswith(f"{given_by}: ") and expected in line, line
    assert DB_PASSWORD not in line
    assert not Path("/nonexistent-dir-convoload").exists()  # reading never creates a database


def test_an_unreachable_database_is_one_line_without_its_password(monkeypatch):
    monkeypatch.delenv("CONVOLOAD_DB_URL", raising=False)
    url = f"postgresql+psycopg://u:{DB_PASSWORD}@127.0.0.1:{free_port()}/x"
    if missing("psycopg"):
        pytest.skip("psycopg is not installed")
    line = error_line(invoke("runs", "list", "--db", url))
    assert line.startswith("--db: cannot open the database: ") and DB_PASSWORD not in line, line


# -- convoload run: the store is checked before the first conversation ----------------------------------


@pytest.fixture
def agent(local_app):
    return local_app(lambda environ, body: (200, {"reply": "ok, o link é https://pay.example.com/pix/1"}))


@pytest.mark.parametrize(
    ("store", "expected"),
    [
        ("env:notaurl", "CONVOLOAD_DB_URL: not a database URL"),
        ("env:foo://x", "CONVOLOAD_DB_URL: unknown database 'foo'"),
        ("env:not-a-folder", "CONVOLOAD_DB_URL: cannot create"),
        ("env:refused", "CONVOLOAD_DB_URL: cannot open the database"),
        ("yaml:notaurl", "{config}: store.url: not a database URL"),
        ("yaml:not-a-folder", "{config}: store.url: cannot create"),
    ],
)
def test_run_refuses_a_bad_store_before_any_conversation(tmp_path, agent, store, expected):
    where, _, value = store.partition(":")
    if value == "refused" and missing("psycopg"):
        pytest.skip("psycopg is not installed")
    url = {
        "not-a-folder": not_a_folder(tmp_path),
        "refused": f"postgresql+psycopg://u:{DB_PASSWORD}@127.0.0.1:{free_port()}/x",
    }.get(value, value)
    config = write(
        tmp_path / "cfg.yaml", f"store: {{url: '{url}'}}\n" if where == "yaml" else "run: {seed: 1}\n"
    )
    runs = tmp_path / "runs"
    result = invoke(
        "run", "-f", str(config), "--url", f"{agent.url}/chat", "-n", "2", "--runs-dir", str(runs),
        env={"CONVOLOAD_DB_URL": url if where == "env" else ""},
    )  # fmt: skip
    line = error_line(result)
    assert line.startswith(expected.format(config=config)), line
    assert DB_PASSWORD not in result.stderr + result.stdout
    assert agent.requests == []  # not one turn was sent
    assert not runs.exists() or run_dirs(runs) == []  # and no run folder was left behind


def test_an_unwritable_runs_folder_is_refused_before_the_run(tmp_path, agent):
    (tmp_path / "afile").write_text("x")
    result = invoke(
        "run", "--url", f"{agent.url}/chat", "-n", "1", "--runs-dir", str(tmp_path / "afile" / "runs"),
        env={"CONVOLOAD_DB_URL": ""},
    )  # fmt: skip
    line = error_line(result)
    assert "run.runs_dir: cannot create" in line and agent.requests == []


@pytest.mark.e2e
def test_report_and_pipeline_name_a_bad_store(tmp_path, agent):
    runs = tmp_path / "runs"
    done = invoke(
        "run",
        "--url",
        f"{agent.url}/chat",
        "-n",
        "1",
        "--runs-dir",
        str(runs),
        env={"CONVOLOAD_DB_URL": None},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    [run_dir] = run_dirs(runs)
    for env, args, expected in [
        ({}, ["report", str(run_dir), "--db", "notaurl"], "--db: not a database URL"),
        ({"CONVOLOAD_DB_URL": "notaurl"}, ["report", str(run_dir)], "CONVOLOAD_DB_URL: not a database URL"),
        ({"CONVOLOAD_DB_URL": "foo://x"}, ["pipeline", "--runs-dir", str(runs)], "CONVOLOAD_DB_URL: unknown"),
    ]:
        result = invoke(*args, env={"CONVOLOAD_DB_URL": "", **env})
        assert error_line(result).startswith(expected), result.stderr
    assert [p.name for p in runs.iterdir() if p.name.startswith("pipeline-")] == []


# -- ports ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["serve-demo", "serve-faulty"])
@pytest.mark.parametrize("port", ["70000", "65536", "-1"])
def test_a_port_out_of_range_is_refused_before_the_server_starts(command, port):
    line = error_line(invoke(command, "--port", port))
    assert line == f"--port: {port} is not a port (0-65535; 0 picks a free one)"


# -- the monitor ---------------------------------------------------------------------------------------


# The monitor runs until stopped when it takes its config: a real process with a timeout, so that a
# refusal that went missing fails the test instead of hanging it.


@pytest.mark.e2e
@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "dashboard.example.com"])
def test_monitor_refuses_an_exposed_dashboard_without_a_token(tmp_path, host):
    config = write(tmp_path / "m.yaml", f"dashboard: {{host: '{host}', port: 0}}\nruns_dir: mruns\n")
    result = spawn("monitor", "-f", str(config), cwd=tmp_path, env={TOKEN_ENV: ""}, timeout=60)
    line = error_line(result)
    assert line.startswith(f"{config}: dashboard.host: a dashboard on {host} needs a token"), line
    assert TOKEN_ENV in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.yaml"]  # no logs, no runs, no database


def test_the_dashboard_rule_lets_tokens_and_loopback_through(monkeypatch):
    exposed = MonitorConfig.model_validate({"dashboard": {"host": "0.0.0.0"}})
    monkeypatch.setenv(TOKEN_ENV, "")
    with pytest.raises(ConfigError) as refused:
        require_dashboard_token(exposed)
    assert refused.value.field == "dashboard.host"
    for host in ("127.0.0.1", "localhost", "::1", "127.8.9.10"):
        require_dashboard_token(MonitorConfig.model_validate({"dashboard": {"host": host}}))
    require_dashboard_token(
        MonitorConfig.model_validate({"dashboard": {"host": "0.0.0.0", "enabled": False}})
    )
    monkeypatch.setenv(TOKEN_ENV, "a-token")
    require_dashboard_token(exposed)


@pytest.mark.e2e
def test_monitor_names_a_bad_store(tmp_path):
    config = write(tmp_path / "m.yaml", "store_url: notaurl\n")
    result = spawn("monitor", "-f", str(config), cwd=tmp_path, timeout=60)
    assert error_line(result) == (
        f"{config}: store_url: not a database URL "
        "(e.g. sqlite:///runs/results.sqlite or postgresql+psycopg://user@host/db)"
    )
    result = spawn(
        "monitor", "--once", "health", cwd=tmp_path, env={"CONVOLOAD_DB_URL": "foo://x"}, timeout=60
    )
    assert error_line(result).startswith("CONVOLOAD_DB_URL: unknown database 'foo'")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.yaml"]
