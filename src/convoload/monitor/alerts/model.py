"""Alerting configuration (validated, strict) and the alert/notification records the engine produces.

Units: a threshold is in the unit of its metric. Rates (`success_rate`, `error_rate`) are fractions
0..1, so "success rate below 70 %" is `critical: 0.70`; a percent string (`critical: 70%`) is accepted
and converted. Response times are seconds, `component_up:*` metrics are 1 (up) or 0 (down), the
judge's `judge_score` (mean normalised score) and `judge_pass_rate` are 0..1 (the monitor's
conversations judged: see monitor.service).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from convoload.errors import pydantic_error_to_config_error

Severity = Literal["warning", "critical"]
SEVERITIES: tuple[Severity, ...] = ("critical", "warning")  # worst first
AlertState = Literal["pending", "firing", "resolved"]

_LABEL_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
_RESERVED_LABELS = {"alertname", "severity"}


def _percent(value: Any) -> Any:
    """`"70%"` -> 0.7, so thresholds can be written in the issue's units; numbers pass through."""
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            return float(value.strip()[:-1]) / 100
        except ValueError:
            raise ValueError(f"not a percentage: {value!r}") from None
    return value


Threshold = Annotated[float, BeforeValidator(_percent)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class RuleConfig(_Strict):
    """One metric compared against a warning and/or a critical threshold.

    `metric` may end in `*` (e.g. `component_up:llm:*`): every metric with that prefix is checked
    separately, and what `*` matched becomes the label named by `capture_label`.
    """

    name: str = Field(pattern=_LABEL_NAME, description="the alertname")
    metric: str = Field(min_length=1)
    op: Literal["<", ">"] = Field(description="breach when value < threshold or value > threshold")
    warning: Threshold | None = None
    critical: Threshold | None = None
    for_s: float = Field(default=0.0, ge=0, description="how long a breach lasts before the alert fires")
    labels: dict[str, str] = Field(default_factory=dict)
    capture_label: str = Field(default="component", pattern=_LABEL_NAME)
    # Without the rule's name: every message already shows it beside the summary.
    summary: str = "{metric} is {value:g} ({op} {threshold:g})"
    description: str = ""

    @property
    def wildcard(self) -> bool:
        return self.metric.endswith("*")

    def thresholds(self) -> dict[Severity, float]:
        found: dict[Severity, float] = {}
        if self.critical is not None:
            found["critical"] = self.critical
        if self.warning is not None:
            found["warning"] = self.warning
        return found

    @model_validator(mode="after")
    def _check(self) -> RuleConfig:
        if self.warning is None and self.critical is None:
            raise ValueError("a rule needs a 'warning' or a 'critical' threshold")
        if "*" in self.metric[:-1]:
            raise ValueError("'*' is only allowed at the end of 'metric'")
        if self.warning is not None and self.critical is not None:
            worse = self.critical <= self.warning if self.op == "<" else self.critical >= self.warning
            if not worse:
                raise ValueError(f"with op '{self.op}' the critical threshold must be beyond the warning one")
        if self.metric.removesuffix("*").endswith("_rate") and any(v > 1 for v in self.thresholds().values()):
            # The classic mistake: `critical: 70` meant as a percentage would never fire.
            raise ValueError("rates are fractions: write 0.7 or '70%'")
        for name in self.labels:
            if not re.match(_LABEL_NAME, name) or name in _RESERVED_LABELS or name == self.capture_label:
                raise ValueError(f"label name {name!r} is invalid or reserved")
        self._check_templates()
        return self

    def _check_templates(self) -> None:
        # Render once with sample values so a typo in a template is a config error, not a silent blank.
        sample = template_fields(self, dict.fromkeys(self.labels, "x") | {self.capture_label: "x"}, 1.0, 1.0)
        for attr in ("summary", "description"):
            try:
                getattr(self, attr).format_map(sample)
            except (KeyError, ValueError, IndexError, AttributeError) as exc:
                raise ValueError(f"{attr}: invalid template ({type(exc).__name__}: {exc})") from None


def template_fields(
    rule: RuleConfig, labels: Mapping[str, str], value: float, threshold: float, metric: str | None = None
) -> dict[str, Any]:
    """What `summary` and `description` may use: the labels plus alertname, metric, value, threshold, op."""
    return {
        **labels,
        "alertname": rule.name,
        "metric": metric or rule.metric,
        "value": value,
        "threshold": threshold,
        "op": rule.op,
    }


class _ChannelBase(_Strict):
    name: str | None = Field(default=None, description="how results and logs name it; defaults to the type")
    severities: list[Severity] = Field(default_factory=lambda: ["warning", "critical"], min_length=1)
    retries: int = Field(default=2, ge=0, le=10, description="extra attempts after a failure")
    backoff_s: float = Field(default=1.0, ge=0, description="wait before the first retry, doubled each time")
    timeout_s: float = Field(default=10.0, gt=0)

    @property
    def label(self) -> str:
        return self.name or self.type  # type: ignore[attr-defined]


class LogChannelConfig(_ChannelBase):
    type: Literal["log"] = "log"


class EmailChannelConfig(_ChannelBase):
    type: Literal["email"]
    host: str = Field(min_length=1)
    port: int | None = Field(
        default=None, ge=1, le=65535, description="default: 25, 587 (starttls), 465 (ssl)"
    )
    tls: Literal["none", "starttls", "ssl"] = "starttls"
    ca_file: str | None = Field(default=None, description="CA bundle for a relay with a private certificate")
    username_env: str | None = Field(default=None, description="NAME of the env var holding the username")
    password_env: str | None = Field(default=None, description="NAME of the env var holding the password")
    from_addr: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    to: list[Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")]] = Field(min_length=1)
    subject_prefix: str = "[convoload]"

    @property
    def effective_port(self) -> int:
        return self.port or {"none": 25, "starttls": 587, "ssl": 465}[self.tls]

    @model_validator(mode="after")
    def _check(self) -> EmailChannelConfig:
        if self.password_env and not self.username_env:
            raise ValueError("'password_env' needs 'username_env'")
        if self.username_env and self.tls == "none":
            raise ValueError("credentials would travel unencrypted: use tls 'starttls' or 'ssl'")
        return self


class _HttpChannelBase(_ChannelBase):
    url: str | None = Field(default=None, pattern=r"^https?://", description="literal URL (contains a token)")
    url_env: str | None = Field(default=None, description="NAME of the env var holding the URL")

    @model_validator(mode="after")
    def _one_url(self) -> _HttpChannelBase:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("set exactly one of 'url' and 'url_env'")
        return self


class SlackChannelConfig(_HttpChannelBase):
    type: Literal["slack"]


class WebhookChannelConfig(_HttpChannelBase):
    type: Literal["webhook"]
    headers_env: dict[str, str] = Field(
        default_factory=dict, description="header name -> NAME of the env var holding its value"
    )


ChannelConfig = Annotated[
    LogChannelConfig | EmailChannelConfig | SlackChannelConfig | WebhookChannelConfig,
    Field(discriminator="type"),
]


def default_rules() -> list[RuleConfig]:
    """The issue's thresholds. Rates are fractions; down rules fire on `component_up:X` < 1."""
    return [
        RuleConfig(
            name="success_rate_low",
            metric="success_rate",
            op="<",
            warning=0.85,
            critical=0.70,
            for_s=300,
            summary="Success rate {value:.1%} is below {threshold:.0%}",
        ),
        RuleConfig(
            name="response_time_high",
            metric="response_time_p95_s",
            op=">",
            warning=5.0,
            critical=10.0,
            for_s=300,
            summary="p95 response time {value:.1f} s is above {threshold:g} s",
        ),
        RuleConfig(
            name="error_rate_high",
            metric="error_rate",
            op=">",
            warning=0.10,
            critical=0.20,
            for_s=300,
            summary="Error rate {value:.1%} is above {threshold:.0%}",
        ),
        RuleConfig(
            # The conversation judge's mean normalised score over the window: only with the judge on
            # (no judged conversation: no value, never an alert).
            name="judge_score_low",
            metric="judge_score",
            op="<",
            warning=0.80,
            critical=0.60,
            for_s=300,
            summary="Judge score {value:.2f} is below {threshold:.2f}",
        ),
        RuleConfig(
            name="catalog_down",
            metric="component_up:catalog",
            op="<",
            critical=1,
            for_s=60,
            summary="The catalog API is down",
        ),
        RuleConfig(
            name="agent_down",
            metric="component_up:agent",
            op="<",
            critical=1,
            for_s=60,
            summary="The agent endpoint is down",
        ),
        RuleConfig(
            name="llm_provider_down",
            metric="component_up:llm:*",
            op="<",
            warning=1,
            for_s=60,
            capture_label="provider",
            summary="LLM provider {provider} is down",
        ),
    ]


class AlertingConfig(_Strict):
    rules: list[RuleConfig] = Field(default_factory=default_rules)
    group_by: list[str] = Field(
        default_factory=lambda: ["alertname"], description="labels that form a group; ['...'] = all labels"
    )
    group_wait_s: float = Field(default=0.0, ge=0, description="hold a new group's first notification")
    repeat_interval_s: float = Field(default=4 * 3600.0, gt=0, description="re-notify a still-firing group")
    channels: list[ChannelConfig] = Field(default_factory=lambda: [LogChannelConfig()])

    @model_validator(mode="after")
    def _unique(self) -> AlertingConfig:
        for what, names in (
            ("rule", [r.name for r in self.rules]),
            ("channel", [c.label for c in self.channels]),
        ):
            duplicates = sorted({n for n in names if names.count(n) > 1})
            if duplicates:
                raise ValueError(
                    f"duplicate {what} name(s) {', '.join(duplicates)}: give each a unique 'name'"
                )
        return self

    def rule(self, name: str) -> RuleConfig | None:
        return next((r for r in self.rules if r.name == name), None)


def load_alerting_config(
    data: Mapping[str, Any] | None, source: str = "config", prefix: str = "alerting"
) -> AlertingConfig:
    """Validate the `alerting:` section; a mistake raises ConfigError naming file and field."""
    try:
        return AlertingConfig.model_validate(dict(data or {}))
    except ValidationError as exc:
        raise pydantic_error_to_config_error(source, exc, prefix) from None


@dataclass
class Alert:
    """One (rule, labels, severity) the engine tracks. Times are epoch seconds from the engine's clock."""

    fingerprint: str
    name: str
    severity: Severity
    labels: dict[str, str]  # includes alertname and severity
    annotations: dict[str, str]
    value: float
    threshold: float
    state: AlertState
    active_since: float
    fired_at: float | None = None
    resolved_at: float | None = None
    inhibited: bool = False  # a firing critical with the same labels mutes this warning

    def copy(self) -> Alert:
        return replace(self, labels=dict(self.labels), annotations=dict(self.annotations))


@dataclass(frozen=True)
class Notification:
    """What a group has to say now: its firing alerts and the ones that just resolved."""

    group_key: str
    group_labels: dict[str, str]
    alerts: tuple[Alert, ...]
    repeat: bool = False  # nothing changed, the repeat interval elapsed
    receiver: str = "convoload"

    @property
    def status(self) -> Literal["firing", "resolved"]:
        return "firing" if any(a.state == "firing" for a in self.alerts) else "resolved"

    @property
    def firing(self) -> list[Alert]:
        return [a for a in self.alerts if a.state == "firing"]

    @property
    def resolved(self) -> list[Alert]:
        return [a for a in self.alerts if a.state == "resolved"]

    @property
    def common_labels(self) -> dict[str, str]:
        return _common([a.labels for a in self.alerts])

    @property
    def common_annotations(self) -> dict[str, str]:
        return _common([a.annotations for a in self.alerts])

    def only(self, severities: Any) -> Notification | None:
        """The part a channel routed to these severities gets; None when nothing is left."""
        kept = tuple(a for a in self.alerts if a.severity in severities)
        if not kept:
            return None
        return self if len(kept) == len(self.alerts) else replace(self, alerts=kept)


def _common(dicts: list[dict[str, str]]) -> dict[str, str]:
    if not dicts:
        return {}
    first, *rest = dicts
    return {k: v for k, v in first.items() if all(d.get(k) == v for d in rest)}
