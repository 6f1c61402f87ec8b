"""The alert state machine, grouping, inhibition and repeats (modelled on Prometheus + Alertmanager).

Each rule instance gets one alert per breached severity, like a Prometheus rule pair: below the critical
threshold both the warning and the critical alert are active, and the firing critical inhibits (mutes)
the warning with the same labels. So when the critical clears while the warning still holds, the
warning speaks up again.

Life of an alert: pending at the first breach, firing once the breach has lasted `for_s`, resolved
when a sample no longer breaches. A pending alert that clears vanishes silently; a missing value
changes nothing (no data is not a breach, nor a recovery).

Notifications go per group (`group_by` labels): when its set of visible firing alerts changes, when
an alert it announced resolves, or again after `repeat_interval_s` while anything still fires.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from convoload.monitor.alerts.model import (
    SEVERITIES,
    Alert,
    AlertingConfig,
    Notification,
    RuleConfig,
    template_fields,
)
from convoload.monitor.alerts.rules import MetricValues, Sample, samples

Clock = Callable[[], float]
logger = logging.getLogger("convoload.alerts")

SNAPSHOT_VERSION = 1


@dataclass
class _Group:
    labels: dict[str, str]
    created_at: float
    last_notified_at: float | None = None
    sent: frozenset[str] = frozenset()  # fingerprints firing in the last notification (change detection)
    owed: set[str] = field(default_factory=set)  # announced as firing, resolution not announced yet


class AlertManager:
    """Evaluate metric values on each tick; return what should be sent. Time comes only from `clock`."""

    def __init__(self, config: AlertingConfig | None = None, clock: Clock = time.time) -> None:
        self.config = config or AlertingConfig()
        self._clock = clock
        self._alerts: dict[str, Alert] = {}
        self._groups: dict[str, _Group] = {}
        # The scheduler evaluates while the dashboard reads active().
        self._lock = threading.Lock()

    def evaluate(self, values: MetricValues) -> list[Notification]:
        """Advance every alert with these values (metric name -> value) and return the due notifications."""
        with self._lock:
            now = self._clock()
            resolved = [r for s in samples(self.config.rules, values) for r in self._update(s, now)]
            self._inhibit()
            return self._notifications(resolved, now)

    def active(self) -> list[Alert]:
        """Pending and firing alerts (copies), firing and critical first."""
        with self._lock:
            return sorted((a.copy() for a in self._alerts.values()), key=_order)

    def snapshot(self) -> dict[str, Any]:
        """The state as plain JSON-able data, so a restart neither forgets nor re-notifies."""
        with self._lock:
            return {
                "version": SNAPSHOT_VERSION,
                "alerts": [asdict(a) for a in sorted(self._alerts.values(), key=_order)],
                "groups": [
                    {
                        "key": key,
                        "labels": dict(group.labels),
                        "created_at": group.created_at,
                        "last_notified_at": group.last_notified_at,
                        "sent": sorted(group.sent),
                        "owed": sorted(group.owed),
                    }
                    for key, group in sorted(self._groups.items())
                ],
            }

    def restore(self, data: Mapping[str, Any]) -> None:
        """Replace the state with a snapshot; alerts of rules/severities no longer configured are dropped."""
        if data.get("version") != SNAPSHOT_VERSION:
            logger.warning(
                "alert state snapshot has version %r, expected %d: starting fresh",
                data.get("version"),
                SNAPSHOT_VERSION,
            )
            return
        alerts: dict[str, Alert] = {}
        for raw in data.get("alerts", []):
            try:
                alert = Alert(
                    **{**raw, "labels": dict(raw["labels"]), "annotations": dict(raw["annotations"])}
                )
            except (TypeError, KeyError, ValueError):
                logger.warning("skipping an unreadable alert in the state snapshot")
                continue
            rule = self.config.rule(alert.name)
            if (
                rule is not None
                and alert.severity in rule.thresholds()
                and alert.state in ("pending", "firing")
            ):
                alerts[alert.fingerprint] = alert
        groups: dict[str, _Group] = {}
        for raw in data.get("groups", []):
            try:
                groups[raw["key"]] = _Group(
                    labels=dict(raw["labels"]),
                    created_at=float(raw["created_at"]),
                    last_notified_at=raw["last_notified_at"],
                    sent=frozenset(raw["sent"]) & alerts.keys(),
                    owed=set(raw["owed"]) & alerts.keys(),
                )
            except (TypeError, KeyError, ValueError):
                logger.warning("skipping an unreadable alert group in the state snapshot")
        with self._lock:
            self._alerts, self._groups = alerts, groups
            self._inhibit()

    def _update(self, sample: Sample, now: float) -> list[Alert]:
        """Move the sample's alerts through pending/firing; return the ones that resolved."""
        rule, breached, resolved = sample.rule, sample.breached(), []
        for severity, threshold in rule.thresholds().items():
            labels = {**sample.labels, "severity": severity}
            fp = fingerprint(labels)
            alert = self._alerts.get(fp)
            if severity in breached:
                if alert is None:
                    alert = Alert(
                        fp, rule.name, severity, labels, {}, sample.value, threshold, "pending", now
                    )
                    self._alerts[fp] = alert
                alert.value, alert.threshold = sample.value, threshold
                alert.annotations = _annotations(rule, sample, threshold)
                if alert.state == "pending" and now - alert.active_since >= rule.for_s:
                    alert.state, alert.fired_at = "firing", now
                    logger.debug("alert %s firing", _describe(alert))
            elif alert is not None:
                del self._alerts[fp]  # a pending alert just vanishes: it was never announced
                if alert.state == "firing":
                    alert.state, alert.resolved_at = "resolved", now
                    logger.debug("alert %s resolved", _describe(alert))
                    resolved.append(alert)
        return resolved

    def _inhibit(self) -> None:
        muting = {
            _identity(a) for a in self._alerts.values() if a.severity == "critical" and a.state == "firing"
        }
        for alert in self._alerts.values():
            alert.inhibited = alert.severity == "warning" and _identity(alert) in muting

    def _notifications(self, resolved: list[Alert], now: float) -> list[Notification]:
        firing: dict[str, list[Alert]] = defaultdict(list)
        for alert in self._alerts.values():
            if alert.state == "firing" and not alert.inhibited:
                firing[self._group_key(alert)].append(alert)
        just_resolved: dict[str, list[Alert]] = defaultdict(list)
        for alert in resolved:
            just_resolved[self._group_key(alert)].append(alert)

        notifications = []
        for key in sorted(firing.keys() | self._groups.keys()):
            group = self._groups.get(key)
            if group is None:
                group = self._groups[key] = _Group(labels=self._group_labels(firing[key][0]), created_at=now)
            done = [a for a in just_resolved.get(key, []) if a.fingerprint in group.owed]
            notification = self._group_notification(key, group, firing.get(key, []), done, now)
            if notification is not None:
                notifications.append(notification)
            group.owed &= self._alerts.keys()
            if not firing.get(key) and not group.owed:
                del self._groups[key]
        return notifications

    def _group_notification(
        self, key: str, group: _Group, firing: list[Alert], done: list[Alert], now: float
    ) -> Notification | None:
        current = frozenset(a.fingerprint for a in firing)
        changed = current != group.sent or bool(done)
        if group.last_notified_at is None and now - group.created_at < self.config.group_wait_s:
            return None  # a new group waits, so alerts that start together are sent together
        repeat_due = (
            bool(firing)
            and group.last_notified_at is not None
            and now - group.last_notified_at >= self.config.repeat_interval_s
        )
        if not (changed or repeat_due):
            return None
        group.sent = current
        if not firing and not done:
            return None  # e.g. its last visible alert got inhibited: nothing new to say
        group.owed = (group.owed - {a.fingerprint for a in done}) | current
        group.last_notified_at = now
        alerts = tuple(sorted((a.copy() for a in [*firing, *done]), key=_order))
        return Notification(group_key=key, group_labels=dict(group.labels), alerts=alerts, repeat=not changed)

    def _group_labels(self, alert: Alert) -> dict[str, str]:
        if "..." in self.config.group_by:
            return dict(alert.labels)
        return {k: alert.labels[k] for k in self.config.group_by if k in alert.labels}

    def _group_key(self, alert: Alert) -> str:
        labels = self._group_labels(alert)
        return "{}:{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def fingerprint(labels: Mapping[str, str]) -> str:
    """Stable id of a label set (16 hex digits, like Alertmanager's)."""
    text = "\x00".join(f"{k}\x01{v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _identity(alert: Alert) -> tuple[tuple[str, str], ...]:
    """What a critical and its warning share: every label but severity."""
    return tuple(sorted((k, v) for k, v in alert.labels.items() if k != "severity"))


def _order(alert: Alert) -> tuple[Any, ...]:
    return (alert.state != "firing", SEVERITIES.index(alert.severity), sorted(alert.labels.items()))


def _annotations(rule: RuleConfig, sample: Sample, threshold: float) -> dict[str, str]:
    values = template_fields(rule, sample.labels, sample.value, threshold, sample.metric)
    out = {}
    for name in ("summary", "description"):
        template = getattr(rule, name)
        if template:
            try:
                out[name] = template.format_map(values)
            except (KeyError, ValueError, IndexError, AttributeError):
                out[name] = template  # validated at load; never let a template stop the monitor
    return out


def _describe(alert: Alert) -> str:
    return f"{alert.name}/{alert.severity} {alert.labels}"
