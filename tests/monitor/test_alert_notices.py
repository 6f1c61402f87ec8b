"""Every alert notice reaches someone: the `log` channel writes warnings and resolutions to alerts.log,
and the monitor's terminal prints each firing and resolution as it happens."""

from __future__ import annotations

import logging
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from convoload.monitor.alerts import AlertingConfig, AlertManager, Dispatcher, LogChannelConfig, RuleConfig
from convoload.monitor.config import MonitorConfig
from convoload.monitor.service import Monitor
from convoload.monitor.store import MonitorStore
from tests.monitor.helpers import agent_config

ENV = {"COLUMNS": "200", "PATH": "/usr/bin:/bin", "HOME": "/tmp"}
RULE = {"name": "svc_down", "metric": "component_up:svc", "op": "<", "warning": 1}


class Component:
    """A real health endpoint on loopback that the test takes down and brings back."""

    def __init__(self, local_app: Callable[..., Any], up: bool) -> None:
        self.up = up
        self.app = local_app(lambda _environ, _body: (200, {"status": "ok"}) if self.up else (503, "down"))
        self.url = self.app.url + "/health"


def _config(folder: Path, health_url: str, *, health_every_s: float | None = None) -> dict[str, Any]:
    """Health checks of one component (no synthetic conversations), a warning rule, the log channel."""
    off = {"enabled": False}
    return {
        "agent": str(agent_config(folder, "http://127.0.0.1:9/api/chat")),  # never called: collect is off
        "runs_dir": str(folder / "runs"),
        "components": [{"name": "svc", "url": health_url}],
        "schedule": {
            "collect": off,
            "health": {"every_s": health_every_s, "timeout_s": 5} if health_every_s else off,
            "stress": off,
            "pipeline": off,
            "daily": off,
        },
        "alerting": {"rules": [RULE], "channels": [{"type": "log"}]},
        "dashboard": off,
        "logs": {"dir": str(folder / "logs")},
    }


def test_the_log_channel_writes_warnings_and_resolutions_to_alerts_log(tmp_path: Path, local_app) -> None:
    component = Component(local_app, up=False)
    monitor = Monitor(MonitorConfig.model_validate(_config(tmp_path, component.url)))
    monitor.start()
    try:
        assert monitor.run_job("health").to_json() == {"svc": {"up": False, "detail": "HTTP 503"}}
        component.up = True
        assert monitor.run_job("health").to_json() == {"svc": {"up": True, "detail": "ok"}}
    finally:
        monitor.shutdown()  # waits for the deliveries, then closes the log files

    lines = (tmp_path / "logs" / "alerts.log").read_text(encoding="utf-8").splitlines()
    # `date time LEVEL logger message`; the logger's name is left out: another test's SMTP user
    # "alerts", remembered as a secret for this process, may have scrubbed it.
    notices = [(line.split(" ")[2], line.split(" ", 4)[4]) for line in lines if "svc_down" in line]
    assert notices == [
        ("WARNING", "FIRING [WARNING] svc_down: component_up:svc is 0 (< 1)"),
        ("INFO", "RESOLVED [WARNING] svc_down: component_up:svc is 0 (< 1)"),
    ]
    store = MonitorStore(f"sqlite:///{tmp_path / 'runs' / 'results.sqlite'}", create=False)
    try:
        deliveries = [(d.channel, d.status, d.ok) for d in reversed(store.deliveries())]
    finally:
        store.close()
    assert deliveries == [("log", "firing", True), ("log", "resolved", True)]


def test_a_log_notice_no_handler_takes_is_a_failed_delivery(monkeypatch: pytest.MonkeyPatch) -> None:
    # The situation the monitor had: `convoload` logs only ERROR (errors.log), nothing above it.
    convoload = logging.getLogger("convoload")
    errors_only = logging.NullHandler()
    errors_only.setLevel(logging.ERROR)
    monkeypatch.setattr(convoload, "propagate", False)
    monkeypatch.setattr(convoload, "handlers", [errors_only])
    monkeypatch.setattr(logging.getLogger("convoload.alerts"), "handlers", [])
    rule = RuleConfig(**RULE, critical=0.5)
    manager = AlertManager(AlertingConfig(rules=[rule]), lambda: 1_700_000_000.0)
    dispatcher = Dispatcher.from_config([LogChannelConfig()])

    [warning] = manager.evaluate({"component_up:svc": 0.75})
    [result] = dispatcher.send(warning)
    assert (result.ok, result.attempts) == (False, 1)
    assert result.error is not None and result.error.startswith("no log handler takes WARNING records of ")

    [critical] = manager.evaluate({"component_up:svc": 0.0})
    assert [r.ok for r in dispatcher.send(critical)] == [True]  # ERROR records are written


def _lines(stream: Any) -> queue.Queue[str]:
    """The process's output lines as they come, so the test can wait on each with a deadline."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _wait_for(lines: queue.Queue[str], text: str, seen: list[str], timeout_s: float = 90) -> str:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"no line with {text!r} within {timeout_s} s; last: {seen[-10:]}") from None
        seen.append(line)
        if text in line:
            return line


@pytest.mark.e2e
@pytest.mark.slow
def test_the_monitor_prints_alerts_on_its_terminal_as_they_fire_and_resolve(
    tmp_path: Path, local_app
) -> None:
    component = Component(local_app, up=True)
    path = tmp_path / "monitor.yaml"
    path.write_text(yaml.safe_dump(_config(tmp_path, component.url, health_every_s=1)), encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "convoload", "monitor", "-f", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=ENV,
    )
    seen: list[str] = []
    try:
        assert process.stdout is not None
        lines = _lines(process.stdout)
        _wait_for(lines, "svc up", seen)  # a health check passed: nothing fires
        component.up = False
        firing = _wait_for(lines, "FIRING", seen)
        component.up = True
        resolved = _wait_for(lines, "RESOLVED", seen)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert firing.split(" ", 1)[1].rstrip() == (
        "alert     FIRING [WARNING] svc_down: component_up:svc is 0 (< 1)"
    )
    assert resolved.split(" ", 1)[1].rstrip() == (
        "alert     RESOLVED [WARNING] svc_down: component_up:svc is 0 (< 1)"
    )
    assert not any("FIRING" in line for line in seen[: seen.index(firing)])
