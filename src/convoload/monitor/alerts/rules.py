"""Turn current metric values into samples: which rule instance has data, and which thresholds it breaches."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from convoload.monitor.alerts.model import RuleConfig, Severity

MetricValues = Mapping[str, float | None]


@dataclass(frozen=True)
class Sample:
    """One rule instance with a current value. `labels` has alertname, the rule's labels, the capture."""

    rule: RuleConfig
    metric: str
    labels: dict[str, str]
    value: float

    def breached(self) -> dict[Severity, float]:
        """Every threshold the value is beyond (a critical breach usually breaches the warning too)."""
        beyond = (lambda t: self.value < t) if self.rule.op == "<" else (lambda t: self.value > t)
        return {severity: t for severity, t in self.rule.thresholds().items() if beyond(t)}


def samples(rules: Sequence[RuleConfig], values: MetricValues) -> list[Sample]:
    """A sample per rule instance with data; a missing, None or NaN value is no data, not a breach."""
    found: list[Sample] = []
    for rule in rules:
        for metric, capture in _matches(rule, values):
            value = _number(values[metric])
            if value is None:
                continue
            labels = {"alertname": rule.name, **rule.labels}
            if capture is not None:
                labels[rule.capture_label] = capture
            found.append(Sample(rule=rule, metric=metric, labels=labels, value=value))
    return found


def _matches(rule: RuleConfig, values: MetricValues) -> list[tuple[str, str | None]]:
    if not rule.wildcard:
        return [(rule.metric, None)] if rule.metric in values else []
    prefix = rule.metric[:-1]
    return sorted(
        (key, key[len(prefix) :]) for key in values if key.startswith(prefix) and len(key) > len(prefix)
    )


def _number(value: object) -> float | None:
    if value is None or isinstance(value, str):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number
