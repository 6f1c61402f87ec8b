"""`python -m convoload.monitor.dashboard`: refuses to serve beyond loopback without a token."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from convoload.monitor.dashboard import DashboardSettings
from convoload.monitor.dashboard.launcher import DashboardServer
from convoload.monitor.dashboard.settings import STORE_URL_ENV, TOKEN_ENV, is_loopback
from convoload.servers import package_root


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {**env, "PYTHONPATH": package_root()}
    return subprocess.run(
        [sys.executable, "-m", "convoload.monitor.dashboard", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.mark.e2e
@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "dashboard.example"])
def test_non_loopback_without_token_is_refused(tmp_path: Path, host: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
    result = _run(
        [
            "--store-url",
            f"sqlite:///{tmp_path}/r.sqlite",
            "--runs-root",
            str(tmp_path),
            "--host",
            host,
            "--port",
            "0",
        ],
        env,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"refusing to serve the dashboard on {host} without a token" in lines[0]
    assert TOKEN_ENV in lines[0]
    assert result.stdout == ""


@pytest.mark.e2e
def test_empty_token_counts_as_none(tmp_path: Path) -> None:
    env = {**os.environ, TOKEN_ENV: ""}
    result = _run(["--store-url", "sqlite://", "--runs-root", str(tmp_path), "--host", "0.0.0.0"], env)
    assert result.returncode == 2 and "without a token" in result.stderr


@pytest.mark.e2e
def test_managed_server_reports_the_refusal(tmp_path: Path) -> None:
    settings = DashboardSettings(store_url="sqlite://", runs_root=tmp_path)
    with pytest.raises(RuntimeError, match="exited with code 2") as info:
        DashboardServer(settings, host="0.0.0.0").start()
    assert "without a token" in str(info.value)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.5.0.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.1", False),
        ("example.com", False),
        ("", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_settings_round_trip_through_the_command_line(tmp_path: Path) -> None:
    from convoload.monitor.dashboard.__main__ import build_parser, settings_from_args

    settings = DashboardSettings(
        store_url="sqlite:///x.sqlite",
        runs_root=tmp_path,
        refresh_s=2.5,
        title="Prod",
        stale_after_s=90,
        trend_hours=6,
        token="t",
    )
    args = build_parser().parse_args(["--store-url", settings.store_url, *settings.cli_args()])
    assert settings_from_args(args, token="t") == settings
    assert "t" not in settings.cli_args()
    assert settings.store_url not in settings.cli_args()  # it may carry a database password


def test_the_store_url_and_token_travel_by_environment(tmp_path: Path) -> None:
    settings = DashboardSettings(store_url="postgresql://u:secretpw@db/x", runs_root=tmp_path, token="tok")
    env = DashboardServer(settings)._env()
    assert env == {TOKEN_ENV: "tok", STORE_URL_ENV: "postgresql://u:secretpw@db/x"}
    assert not any("secretpw" in arg for arg in DashboardServer(settings)._args())
