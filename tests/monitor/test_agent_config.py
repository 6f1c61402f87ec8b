"""What the monitor puts in the agent config (the watched system's goal and personas, its runs folder,
its results store) is validated like the agent's file, never copied in with model_copy(update=...).

Before: the values went in unvalidated. A bundled system's goal that is no regular expression, or
its empty persona list, was taken and every job failed on it later (exit 1, the cause in errors.log);
a $CONVOLOAD_DB_URL that is no database URL became the agent's `store.url` as it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, ConfigDict

from convoload.bundled import BUNDLED, BundledSystem, Launch, StartedSystem, chat_target
from convoload.errors import ConfigError
from convoload.monitor.config import MonitorConfig
from convoload.monitor.system import resolve
from convoload.store.results.engine import ENV_DB_URL
from tests.helpers import error_line, invoke, write

NAME = "misdeclared"
OFF = {"enabled": False}


class _NoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Misdeclared(BundledSystem):
    """A pack's system that starts nothing and declares what it is told to (a goal, personas)."""

    options = _NoOptions

    def __init__(self, **declared: Any) -> None:
        for name, value in declared.items():
            setattr(self, name, value)
        self.started = 0

    def start(self, options: Any, launch: Launch) -> StartedSystem:
        self.started += 1
        url = "http://127.0.0.1:9"  # never called: the config is refused first
        return StartedSystem(NAME, url, chat_target(f"{url}/chat"), health={"agent": f"{url}/health"})


@pytest.fixture
def declare() -> Iterator[Any]:
    """declare(**attributes): the bundled system NAME, declaring them, registered for the test."""

    def register(**declared: Any) -> Misdeclared:
        system = Misdeclared(**declared)
        BUNDLED.register(NAME, system)
        return system

    yield register
    BUNDLED.unregister(NAME)


def _monitor_yaml(tmp_path: Path, agent: dict[str, Any]) -> Path:
    write(tmp_path / "agent.yaml", yaml.safe_dump(agent))
    schedule = {job: OFF for job in ("collect", "health", "stress", "pipeline", "daily")}
    monitor = {
        "agent": "agent.yaml",
        "runs_dir": str(tmp_path / "runs"),
        "schedule": schedule,
        "dashboard": OFF,
        "logs": {"dir": str(tmp_path / "logs")},
    }
    return write(tmp_path / "monitor.yaml", yaml.safe_dump(monitor))


@pytest.mark.parametrize(
    ("declared", "words"),
    [
        ({"goal": "(", "personas": ("renata",)}, "invalid regular expression"),
        ({"goal": None, "personas": ()}, "at least 1 item"),
    ],
    ids=["goal-no-regex", "no-personas"],
)
def test_what_a_bundled_system_gives_the_agent_config_obeys_the_fields_rules(
    declared: dict[str, Any], words: str, declare: Any, tmp_path: Path
) -> None:
    system = declare(**declared)
    path = _monitor_yaml(tmp_path, {"target": {"type": "demo", "demo": {"agent": NAME}}})
    result = invoke("monitor", "-f", str(path), "--once", "collect")
    line = error_line(result)  # one line, exit 2, no traceback
    assert line.startswith(f"bundled system {NAME}: ") and words in line, line
    assert system.started == 1  # refused as it was aimed at it, before any job ran
    assert not (tmp_path / "runs" / "probes").exists()


def test_a_personas_list_of_the_agent_config_is_kept(declare: Any, tmp_path: Path) -> None:
    declare(goal=r"booked", personas=())  # would be refused, were they used
    path = _monitor_yaml(
        tmp_path, {"personas": ["renata"], "target": {"type": "demo", "demo": {"agent": NAME}}}
    )
    config = MonitorConfig.model_validate(yaml.safe_load(path.read_text())).model_copy(
        update={"base_dir": tmp_path, "source": str(path)}
    )
    with ExitStack() as resources:
        agent = resolve(config, resources).agent
    assert agent.personas == ["renata"]
    assert (agent.goal.type, agent.goal.pattern) == ("regex", "booked")
    assert (agent.target.type, agent.target.url) == ("http", "http://127.0.0.1:9/chat")
    assert (agent.source, agent.base_dir) == (str(tmp_path / "agent.yaml"), tmp_path.resolve())
    runs = (tmp_path / "runs").resolve()
    assert agent.run.runs_dir == str(runs)
    assert agent.store.enabled and agent.store.url == f"sqlite:///{runs}/results.sqlite"


def test_a_results_store_url_from_the_environment_obeys_store_url_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _monitor_yaml(tmp_path, {"target": {"type": "http", "url": "http://127.0.0.1:9/chat"}})
    config = MonitorConfig.model_validate(yaml.safe_load(path.read_text())).model_copy(
        update={"base_dir": tmp_path, "source": str(path)}
    )
    monkeypatch.setenv(ENV_DB_URL, "not a database")
    with ExitStack() as resources, pytest.raises(ConfigError) as info:
        resolve(config, resources)
    assert (info.value.source, info.value.field) == (ENV_DB_URL, "")
    assert str(info.value).count("\n") == 0 and "not a database URL" in str(info.value)
