"""The conversation judge in the monitor: the window's judge score and pass ratio, the judge's cost in the
cost per success, the default `judge_score_low` rule, and a judged monitor end to end (metrics in the
store and on /metrics, the alert on the judge score delivered to a webhook)."""

from __future__ import annotations

from pathlib import Path

import pytest

from convoload.model import ConversationRecord, Outcome
from convoload.model.judgement import Judgement, JudgeUsage
from convoload.monitor.alerts.model import AlertingConfig, default_rules
from convoload.monitor.alerts.rules import samples
from convoload.monitor.config import MonitorConfig
from convoload.monitor.window import ConversationWindow
from tests.monitor.helpers import RealEstate, Receiver, monitor_config


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def record(session: str, goal: bool, cost: float = 0.0) -> ConversationRecord:
    return ConversationRecord(
        run_id="r",
        session_id=session,
        user_id=1,
        persona="renata",
        started_at="t",
        outcome=Outcome.GOAL_REACHED if goal else Outcome.MAX_ITERATIONS,
        agent_cost_usd=cost,
    )


def verdict(session: str, passed: bool | None, score: float | None, cost: float) -> Judgement:
    return Judgement(
        run_id="r",
        session_id=session,
        user_id=1,
        persona="renata",
        rubric="realestate",
        status="judged" if passed is not None else "judge_error",
        passed=passed,
        score=score,
        usage=JudgeUsage(cost_usd=cost),
    )


def test_the_window_reports_the_judge_and_counts_its_cost_per_success():
    clock = Clock()
    window = ConversationWindow(60, clock)
    assert window.metrics().judge_score is None
    window.add(record("a", True, cost=0.02))
    window.add(record("b", False, cost=0.02))
    unjudged = window.metrics()
    assert unjudged.judge_score is None and unjudged.judge_pass_rate is None  # no data, not 0
    assert unjudged.cost_per_success_usd == pytest.approx(0.04)
    window.add_judgement(verdict("a", True, 0.9, 0.001))
    window.add_judgement(verdict("b", False, 0.5, 0.001))
    window.add_judgement(verdict("c", None, None, 0.0005))  # the judge could not score it: no score
    metrics = window.metrics()
    assert metrics.judge_score == pytest.approx(0.7)
    assert metrics.judge_pass_rate == 0.5
    assert metrics.cost_per_success_usd == pytest.approx(0.04 + 0.0025)
    assert window.totals.judge_cost_usd == pytest.approx(0.0025)
    clock.now += 61  # the verdicts leave the window with their conversations
    window.add(record("d", True))
    later = window.metrics()
    assert later.judge_score is None and later.cost_per_success_usd == 0.0
    assert window.totals.judge_cost_usd == pytest.approx(0.0025), "a running total"


def test_the_default_rules_watch_the_judge_score_only_when_there_is_one():
    [rule] = [r for r in default_rules() if r.metric == "judge_score"]
    assert (rule.name, rule.op, rule.warning, rule.critical) == ("judge_score_low", "<", 0.8, 0.6)
    rules = AlertingConfig().rules
    assert samples(rules, {"judge_score": None}) == []  # not judged: no data, never an alert
    [low] = [s for s in samples(rules, {"judge_score": 0.55}) if s.rule.name == "judge_score_low"]
    assert low.breached() == {"critical": 0.6, "warning": 0.8}
    [fine] = [s for s in samples(rules, {"judge_score": 0.9}) if s.rule.name == "judge_score_low"]
    assert fine.breached() == {}


def test_the_monitor_config_judge_switch_is_validated():
    assert MonitorConfig().judge is None
    assert MonitorConfig.model_validate({"judge": True}).judge is True
    with pytest.raises(ValueError, match="judge"):
        MonitorConfig.model_validate({"judge": "sometimes"})


@pytest.mark.e2e
@pytest.mark.slow
def test_a_judged_monitor_exports_the_judge_and_alerts_on_its_score(
    tmp_path: Path, realestate: RealEstate, alert_receiver: Receiver
) -> None:
    import yaml

    from convoload.judge.runner import JUDGEMENTS_NAME
    from convoload.monitor.dashboard.exposition import render_metrics
    from convoload.monitor.service import Monitor
    from convoload.monitor.store import MonitorStore

    # An impossible floor (every score is at most 1): the judged window breaches it at once.
    rules = [{"name": "judge_score_low", "metric": "judge_score", "op": "<", "critical": 1.01}]
    data = monitor_config(
        tmp_path,
        realestate,
        alerting={"rules": rules, "channels": [{"type": "webhook", "url": alert_receiver.url}]},
    )
    agent = Path(data["agent"])
    settings = yaml.safe_load(agent.read_text(encoding="utf-8"))
    agent.write_text(yaml.safe_dump({**settings, "judge": {"enabled": True, "rubric": "realestate"}}))
    monitor = Monitor(MonitorConfig.model_validate(data))
    monitor.start()
    try:
        assert monitor.judging
        assert monitor.wait_jobs({"collect": 1}, timeout_s=120)
        notification = alert_receiver.next(timeout=60)
    finally:
        monitor.shutdown()
    assert notification["status"] == "firing"
    assert {a["labels"]["alertname"] for a in notification["alerts"]} == {"judge_score_low"}
    store = MonitorStore(f"sqlite:///{tmp_path / 'runs' / 'results.sqlite'}")
    latest = {s.series: s.value for s in store.latest()}
    assert 0.0 <= latest["convoload_judge_score"] <= 1.0
    assert 0.0 <= latest["convoload_judge_pass_ratio"] <= 1.0
    assert latest["convoload_judge_cost_usd_total"] == 0.0  # the offline local judge is free
    exposed = render_metrics(store).decode()
    assert "# TYPE convoload_judge_score gauge" in exposed
    assert "# TYPE convoload_judge_pass_ratio gauge" in exposed
    [probe_run] = [p for p in (tmp_path / "runs" / "probes").iterdir() if p.is_dir()]
    lines = (probe_run / JUDGEMENTS_NAME).read_text(encoding="utf-8").splitlines()
    assert len(lines) >= 2  # every finished probe of the first collection, judged


def echo_monitor(tmp_path: Path, monkeypatch, agent: dict, schedule: dict):
    """A judged monitor of the echo pack's agent (tests/monitor/test_pipeline_job.py), every job off
    but those in `schedule`; started, to be shut down by the caller."""
    import yaml

    from convoload.monitor.service import Monitor
    from tests.helpers import write
    from tests.monitor.test_pipeline_job import ECHO_PACK, OFF

    write(tmp_path / "echo_pack.py", ECHO_PACK)
    monkeypatch.syspath_prepend(str(tmp_path))
    rubric = write(
        tmp_path / "chat.yaml",
        "name: chat\ncriteria:\n"
        "  - {id: whatsapp_tone, description: short friendly chat messages, scale: 1-5}\n",
    )
    agent = {
        "personas": ["renata"],
        "target": {"type": "python", "function": "echo_pack:reply"},
        "judge": {"enabled": True, "rubric": str(rubric)},
        **agent,
    }
    jobs = {"collect": OFF, "health": OFF, "stress": OFF, "pipeline": OFF, "daily": OFF, **schedule}
    data = {
        "agent": str(write(tmp_path / "agent.yaml", yaml.safe_dump(agent))),
        "runs_dir": str(tmp_path / "runs"),
        "schedule": jobs,
        "dashboard": OFF,
        "logs": {"dir": str(tmp_path / "logs")},
    }
    monitor = Monitor(MonitorConfig.model_validate(data).model_copy(update={"base_dir": tmp_path}))
    monitor.start()
    return monitor


@pytest.mark.e2e
def test_a_judged_monitor_judges_its_pipeline_job(tmp_path: Path, monkeypatch) -> None:
    import json

    monitor = echo_monitor(
        tmp_path, monkeypatch, {}, {"pipeline": {"enabled": False, "suite": "echo_pack:SUITE"}}
    )
    try:
        assert monitor.judging
        summary = monitor.run_job("pipeline")
    finally:
        monitor.shutdown()
    assert summary is not None, (tmp_path / "logs" / "errors.log").read_text()
    results = next((tmp_path / "runs" / "pipeline").glob("pipeline-*/real_test_results.json"))
    [scenario] = json.loads(results.read_text())["scenarios"]
    assert list(scenario["integration"]) == ["coherence", "echoes", "user_experience", "judge"]
    assert scenario["integration"]["judge"] == 1.0  # short, friendly echoes: the tone passes
    assert scenario["judgement"]["rubrics"] == ["chat"] and scenario["judgement"]["judged"] == 2


@pytest.mark.e2e
def test_a_judged_monitor_judges_its_stress_test(tmp_path: Path, monkeypatch) -> None:
    import json

    from convoload.judge.runner import JUDGEMENTS_NAME

    stress = {"stress": {"enabled": False, "users": 2, "duration_s": 1, "drain_s": 10}}
    monitor = echo_monitor(tmp_path, monkeypatch, {"run": {"max_iterations": 2}}, stress)
    try:
        summary = monitor.run_job("stress")
    finally:
        monitor.shutdown()
    assert summary is not None, (tmp_path / "logs" / "errors.log").read_text()
    [run_dir] = [p for p in (tmp_path / "runs").rglob("aggregate.json")]
    aggregate = json.loads(run_dir.read_text(encoding="utf-8"))
    judged = aggregate["judgement"]["judged"]
    assert judged == aggregate["summary"]["total_conversations"] > 0
    assert len((run_dir.parent / JUDGEMENTS_NAME).read_text(encoding="utf-8").splitlines()) == judged
    assert summary.judge_pass_rate == aggregate["judgement"]["pass_rate"] == 1.0
