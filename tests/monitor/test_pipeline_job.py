"""The monitor's pipeline job runs a scenario suite (`schedule.pipeline.suite`), found as `convoload pipeline`
finds it, against the system the suite names, an external copy of it, or the watched agent."""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path

import pytest
import yaml

from convoload.errors import ConfigError
from convoload.monitor.config import MonitorConfig, load_monitor_config
from convoload.monitor.service import Monitor
from convoload.monitor.system import resolve
from tests.helpers import write

OFF = {"enabled": False}

# An agent of the user's own (a python target) and a suite that names no system: it runs against the agent.
ECHO_PACK = """
from convoload.pipeline import CheckResult, DomainCheck, Mismatch, Scenario, ScenarioSuite


def reply(text, session, iteration):
    return {"text": f"Recebi a sua mensagem: {text}", "agent": "echo"}


def echoes(records, system):
    result = CheckResult()
    for record in records:
        for turn in record.turns:
            result.checked += 1
            if turn.reply_text != f"Recebi a sua mensagem: {turn.user_text}":
                result.mismatches.append(Mismatch(record.session_id, turn.iteration))
    return result


SUITE = ScenarioSuite(
    name="echo",
    personas=("renata",),
    scenarios=(
        Scenario(
            name="greetings",
            conversations=2,
            success="graceful",
            scripts=[["oi"], ["hello"]],
            checks=["echoes"],
        ),
    ),
    checks=(DomainCheck("echoes", echoes),),
)
"""


def _config(tmp_path: Path, pipeline: dict) -> dict:
    agent = write(
        tmp_path / "agent.yaml",
        yaml.safe_dump({"personas": ["renata"], "target": {"type": "python", "function": "echo_pack:reply"}}),
    )
    return {
        "agent": str(agent),
        "runs_dir": str(tmp_path / "runs"),
        "schedule": {"collect": OFF, "health": OFF, "stress": OFF, "pipeline": pipeline, "daily": OFF},
        "dashboard": OFF,
        "logs": {"dir": str(tmp_path / "logs")},
    }


def test_a_suite_of_no_system_runs_against_the_watched_agent(tmp_path: Path, monkeypatch) -> None:
    write(tmp_path / "echo_pack.py", ECHO_PACK)
    monkeypatch.syspath_prepend(str(tmp_path))
    data = _config(tmp_path, {"enabled": False, "suite": "echo_pack:SUITE"})
    config = MonitorConfig.model_validate(data).model_copy(update={"base_dir": tmp_path})
    monitor = Monitor(config)
    monitor.start()
    try:
        assert monitor.watched is not None and monitor.watched.pipeline is not None
        assert monitor.watched.pipeline.target["function"] == "echo_pack:reply"
        summary = monitor.run_job("pipeline")
    finally:
        monitor.shutdown()
    assert summary is not None, (tmp_path / "logs" / "errors.log").read_text()
    assert (summary.conversations, summary.scenarios) == (2, {"greetings": "A+"})
    results = next((tmp_path / "runs" / "pipeline").glob("pipeline-*/real_test_results.json"))
    [scenario] = json.loads(results.read_text())["scenarios"]
    assert scenario["echoes"] == {"checked": 2, "mismatches": []}
    assert list(scenario["integration"]) == ["coherence", "echoes", "user_experience"]


def test_the_realestate_suite_is_off_for_an_agent_of_ones_own(tmp_path: Path, monkeypatch) -> None:
    # The default suite runs against the bundled real-estate system; watching something else, the monitor
    # has no system for it (unless `schedule.pipeline.system` says where a copy runs).
    write(tmp_path / "echo_pack.py", ECHO_PACK)
    monkeypatch.syspath_prepend(str(tmp_path))
    config = MonitorConfig.model_validate(_config(tmp_path, {})).model_copy(update={"base_dir": tmp_path})
    with ExitStack() as resources:
        assert resolve(config, resources).pipeline is None
    external = {"chat_url": "http://127.0.0.1:9/api/chat", "health_url": "http://127.0.0.1:9/health"}
    config = MonitorConfig.model_validate(_config(tmp_path, {"system": external})).model_copy(
        update={"base_dir": tmp_path}
    )
    with ExitStack() as resources:
        pipeline = resolve(config, resources).pipeline
    assert pipeline is not None and pipeline.target["url"] == external["chat_url"]
    assert pipeline.catalog_url is None and pipeline.health_url == external["health_url"]


def test_the_pipeline_job_names_its_suite_and_checks_its_scenarios_at_start(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("schedule:\n  pipeline: {suite: nope}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_monitor_config(path)
    assert (info.value.source, info.value.field) == (str(path), "schedule.pipeline.suite")
    assert "unknown scenario suite 'nope' (installed: realestate)" in str(info.value)
    scenarios = write(tmp_path / "s.yaml", "- {name: a, checks: [prices]}\n")
    path.write_text("schedule:\n  pipeline: {scenarios: s.yaml, enabled: false}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_monitor_config(path)
    assert (info.value.source, info.value.field) == (str(scenarios), "scenarios.0.checks")
