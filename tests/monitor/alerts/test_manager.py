"""The alert state machine, driven by a manual clock."""

from __future__ import annotations

import json

from convoload.monitor.alerts import AlertingConfig, AlertManager, Notification, RuleConfig

from .helpers import LATENCY_RULE, SUCCESS_RULE, T0, ManualClock

HOUR = 3600.0


def manager_for(clock: ManualClock, *rules: RuleConfig, **config) -> AlertManager:
    return AlertManager(AlertingConfig(rules=list(rules or [SUCCESS_RULE]), **config), clock)


def states(notification: Notification) -> list[tuple[str, str, str]]:
    return [(a.name, a.severity, a.state) for a in notification.alerts]


def test_a_breach_is_pending_until_it_has_lasted_for_s(clock):
    manager = manager_for(clock, SUCCESS_RULE.model_copy(update={"for_s": 60}))
    assert manager.evaluate({"success_rate": 0.80}) == []
    [pending] = manager.active()
    assert (pending.severity, pending.state, pending.active_since, pending.fired_at) == (
        "warning",
        "pending",
        T0,
        None,
    )

    clock.advance(59)
    assert manager.evaluate({"success_rate": 0.80}) == []

    clock.advance(1)
    [notification] = manager.evaluate({"success_rate": 0.80})
    assert notification.status == "firing"
    assert states(notification) == [("success_rate_low", "warning", "firing")]
    alert = notification.alerts[0]
    assert (alert.fired_at, alert.value, alert.threshold) == (T0 + 60, 0.80, 0.85)
    assert alert.annotations["summary"] == "Success rate 80% is below 85%"
    assert notification.group_labels == {"alertname": "success_rate_low"}


def test_a_pending_alert_that_clears_vanishes_without_a_notification(clock):
    manager = manager_for(clock, SUCCESS_RULE.model_copy(update={"for_s": 60}))
    manager.evaluate({"success_rate": 0.80})
    clock.advance(30)
    assert manager.evaluate({"success_rate": 0.95}) == []
    assert manager.active() == []

    clock.advance(40)  # a new breach starts its own `for` from scratch
    assert manager.evaluate({"success_rate": 0.80}) == []
    assert manager.active()[0].active_since == clock.now


def test_repeat_only_after_the_repeat_interval(clock):
    manager = manager_for(clock, repeat_interval_s=HOUR)
    [first] = manager.evaluate({"success_rate": 0.80})
    assert not first.repeat

    clock.advance(HOUR - 1)
    assert manager.evaluate({"success_rate": 0.79}) == []  # a new value alone is not news

    clock.advance(1)
    [repeat] = manager.evaluate({"success_rate": 0.79})
    assert repeat.repeat
    assert [a.fingerprint for a in repeat.alerts] == [a.fingerprint for a in first.alerts]

    clock.advance(HOUR / 2)
    assert manager.evaluate({"success_rate": 0.79}) == []


def test_clearing_sends_a_resolved_notification_once(clock):
    manager = manager_for(clock)
    [fired] = manager.evaluate({"success_rate": 0.80})
    clock.advance(120)
    [resolved] = manager.evaluate({"success_rate": 0.95})
    assert resolved.status == "resolved"
    alert = resolved.alerts[0]
    assert (alert.state, alert.fired_at, alert.resolved_at) == ("resolved", T0, T0 + 120)
    assert alert.fingerprint == fired.alerts[0].fingerprint

    clock.advance(2 * 4 * HOUR)
    assert manager.evaluate({"success_rate": 0.95}) == []
    assert manager.active() == []


def test_no_data_is_neither_a_breach_nor_a_recovery(clock):
    manager = manager_for(clock, SUCCESS_RULE.model_copy(update={"for_s": 60}))
    assert manager.evaluate({"success_rate": None}) == []
    assert manager.active() == []

    manager.evaluate({"success_rate": 0.80})
    clock.advance(60)
    assert manager.evaluate({"success_rate": None, "other": 1.0}) == []
    assert manager.active()[0].state == "pending"  # kept, not resolved; `for` keeps counting
    clock.advance(1)
    assert len(manager.evaluate({"success_rate": 0.80})) == 1
    assert manager.evaluate({"success_rate": float("nan")}) == []
    assert manager.active()[0].state == "firing"


def test_critical_inhibits_its_warning_and_the_warning_returns_when_it_clears(clock):
    manager = manager_for(clock, repeat_interval_s=HOUR)
    [warning] = manager.evaluate({"success_rate": 0.80})
    assert states(warning) == [("success_rate_low", "warning", "firing")]

    clock.advance(60)  # escalation
    [critical] = manager.evaluate({"success_rate": 0.50})
    assert states(critical) == [("success_rate_low", "critical", "firing")]
    muted = {a.severity: a.inhibited for a in manager.active()}
    assert muted == {"critical": False, "warning": True}

    clock.advance(HOUR)  # the repeat carries only the critical
    [repeat] = manager.evaluate({"success_rate": 0.50})
    assert repeat.repeat and states(repeat) == [("success_rate_low", "critical", "firing")]

    clock.advance(60)  # de-escalation: still below the warning threshold
    [back] = manager.evaluate({"success_rate": 0.80})
    assert states(back) == [
        ("success_rate_low", "warning", "firing"),
        ("success_rate_low", "critical", "resolved"),
    ]
    assert back.status == "firing"

    clock.advance(60)
    [cleared] = manager.evaluate({"success_rate": 0.95})
    assert states(cleared) == [("success_rate_low", "warning", "resolved")]


def test_a_straight_drop_to_critical_sends_only_the_critical(clock):
    manager = manager_for(clock)
    [notification] = manager.evaluate({"success_rate": 0.50})
    assert states(notification) == [("success_rate_low", "critical", "firing")]
    assert len(manager.active()) == 2

    clock.advance(60)  # both resolve: only the announced critical is reported
    [resolved] = manager.evaluate({"success_rate": 0.99})
    assert states(resolved) == [("success_rate_low", "critical", "resolved")]


def test_an_inhibited_warning_that_was_announced_still_gets_its_resolution(clock):
    manager = manager_for(clock)
    manager.evaluate({"success_rate": 0.80})
    clock.advance(60)
    manager.evaluate({"success_rate": 0.50})
    clock.advance(60)
    [resolved] = manager.evaluate({"success_rate": 0.99})
    assert sorted(states(resolved)) == [
        ("success_rate_low", "critical", "resolved"),
        ("success_rate_low", "warning", "resolved"),
    ]


def test_inhibition_needs_the_same_labels(clock):
    manager = manager_for(clock, LATENCY_RULE)
    [notification] = manager.evaluate({"latency_s:catalog": 12, "latency_s:agent": 7})
    shown = [(a.labels["component"], a.severity) for a in notification.alerts]
    assert shown == [("catalog", "critical"), ("agent", "warning")]
    inhibited = {(a.labels["component"], a.severity) for a in manager.active() if a.inhibited}
    assert inhibited == {("catalog", "warning")}


def test_alerts_of_a_group_go_out_together(clock):
    rule = RuleConfig(name="llm_down", metric="up:llm:*", op="<", warning=1, capture_label="provider")
    manager = manager_for(clock, rule)
    [notification] = manager.evaluate({"up:llm:openai": 0, "up:llm:anthropic": 0, "up:llm:local": 1})
    assert notification.group_key == '{}:{alertname="llm_down"}'
    assert sorted(a.labels["provider"] for a in notification.alerts) == ["anthropic", "openai"]
    assert notification.common_labels == {"alertname": "llm_down", "severity": "warning"}

    clock.advance(60)  # a newcomer re-sends the group with everyone in it
    [grown] = manager.evaluate({"up:llm:openai": 0, "up:llm:anthropic": 0, "up:llm:local": 0})
    assert len(grown.alerts) == 3 and not grown.repeat

    clock.advance(60)  # one recovers: its resolution travels with the ones still firing
    [shrunk] = manager.evaluate({"up:llm:openai": 1, "up:llm:anthropic": 0, "up:llm:local": 0})
    assert {a.labels["provider"]: a.state for a in shrunk.alerts} == {
        "openai": "resolved",
        "anthropic": "firing",
        "local": "firing",
    }


def test_group_by_splits_groups(clock):
    manager = manager_for(clock, LATENCY_RULE, group_by=["alertname", "component"])
    notifications = manager.evaluate({"latency_s:catalog": 7, "latency_s:agent": 7})
    assert [n.group_labels for n in notifications] == [
        {"alertname": "latency_high", "component": "agent"},
        {"alertname": "latency_high", "component": "catalog"},
    ]


def test_group_wait_holds_a_new_group_to_batch_its_alerts(clock):
    manager = manager_for(clock, LATENCY_RULE, group_wait_s=30)
    assert manager.evaluate({"latency_s:catalog": 7}) == []
    clock.advance(10)
    assert manager.evaluate({"latency_s:catalog": 7, "latency_s:agent": 7}) == []
    clock.advance(20)
    [notification] = manager.evaluate({"latency_s:catalog": 7, "latency_s:agent": 7})
    assert len(notification.alerts) == 2


def test_snapshot_and_restore_do_not_renotify(clock):
    rules = [SUCCESS_RULE, LATENCY_RULE.model_copy(update={"for_s": 300})]
    manager = manager_for(clock, *rules, repeat_interval_s=HOUR)
    values = {"success_rate": 0.80, "latency_s:agent": 7}
    [fired] = manager.evaluate(values)
    clock.advance(120)

    saved = json.loads(json.dumps(manager.snapshot()))  # what a database column would hold
    restarted = manager_for(clock, *rules, repeat_interval_s=HOUR)
    restarted.restore(saved)
    assert [(a.fingerprint, a.state) for a in restarted.active()] == [
        (a.fingerprint, a.state) for a in manager.active()
    ]
    assert restarted.evaluate(values) == []

    clock.advance(180)  # the pending latency alert keeps its `for` clock across the restart
    [latency] = restarted.evaluate(values)
    assert states(latency) == [("latency_high", "warning", "firing")]

    clock.advance(HOUR - 300)  # the repeat interval counts from before the restart
    [repeat] = restarted.evaluate({"success_rate": 0.80})
    assert repeat.repeat and repeat.alerts[0].fingerprint == fired.alerts[0].fingerprint

    clock.advance(60)
    [resolved] = restarted.evaluate({"success_rate": 0.99})
    assert states(resolved) == [("success_rate_low", "warning", "resolved")]


def test_restore_forgets_rules_that_are_gone_and_ignores_other_versions(clock):
    manager = manager_for(clock, SUCCESS_RULE, LATENCY_RULE)
    manager.evaluate({"success_rate": 0.80, "latency_s:agent": 7})
    saved = manager.snapshot()

    fewer = manager_for(clock, LATENCY_RULE)
    fewer.restore(saved)
    assert [a.name for a in fewer.active()] == ["latency_high"]

    fresh = manager_for(clock)
    fresh.restore({**saved, "version": 99})
    assert fresh.active() == []


def test_default_rules_cover_the_components(clock):
    manager = AlertManager(AlertingConfig(), clock)
    down = {"component_up:catalog": 0, "component_up:agent": 1, "component_up:llm:openai": 0}
    assert manager.evaluate(down) == []  # the default rules wait a minute
    clock.advance(60)
    notifications = manager.evaluate(down)
    found = {(a.name, a.severity, a.labels.get("provider")) for n in notifications for a in n.alerts}
    assert found == {("catalog_down", "critical", None), ("llm_provider_down", "warning", "openai")}


def test_default_thresholds(clock):
    manager = AlertManager(AlertingConfig(), clock)
    values = {"success_rate": 0.69, "error_rate": 0.15, "response_time_p95_s": 5.5}
    manager.evaluate(values)
    clock.advance(300)
    fired = {(a.name, a.severity) for n in manager.evaluate(values) for a in n.alerts}
    assert fired == {
        ("success_rate_low", "critical"),
        ("error_rate_high", "warning"),
        ("response_time_high", "warning"),
    }
