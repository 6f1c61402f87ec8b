"""The alerting config: units, defaults, and mistakes reported by field."""

from __future__ import annotations

import pytest
import yaml

from convoload.errors import ConfigError
from convoload.monitor.alerts import (
    EmailChannelConfig,
    LogChannelConfig,
    SlackChannelConfig,
    WebhookChannelConfig,
    load_alerting_config,
)
from convoload.monitor.alerts.rules import samples

EXAMPLE = """
alerting:
  group_by: [alertname]
  repeat_interval_s: 7200
  rules:
    - name: success_rate_low
      metric: success_rate
      op: "<"
      warning: 85%
      critical: 0.7
      for_s: 300
    - name: component_down
      metric: "component_up:*"
      op: "<"
      critical: 1
      summary: "{component} is down"
  channels:
    - type: log
    - type: email
      host: smtp.example.com
      username_env: SMTP_USERNAME
      password_env: SMTP_PASSWORD
      from_addr: convoload@example.com
      to: [oncall@example.com]
      severities: [critical]
    - type: slack
      url_env: SLACK_WEBHOOK_URL
    - type: webhook
      url: https://alerts.example.com/hook
      headers_env: {Authorization: ALERT_WEBHOOK_AUTH}
"""


def load(text: str):
    return load_alerting_config(yaml.safe_load(text)["alerting"], source="monitor.yaml")


def test_the_documented_example_loads():
    config = load(EXAMPLE)
    rule = config.rules[0]
    assert (rule.warning, rule.critical, rule.for_s) == (0.85, 0.7, 300)
    assert [type(c) for c in config.channels] == [
        LogChannelConfig,
        EmailChannelConfig,
        SlackChannelConfig,
        WebhookChannelConfig,
    ]
    email = config.channels[1]
    assert (email.tls, email.effective_port, email.severities) == ("starttls", 587, ["critical"])


def test_defaults_are_the_issue_thresholds():
    config = load_alerting_config(None)
    rules = {r.name: (r.op, r.warning, r.critical) for r in config.rules}
    assert rules == {
        "success_rate_low": ("<", 0.85, 0.70),
        "response_time_high": (">", 5.0, 10.0),
        "error_rate_high": (">", 0.10, 0.20),
        "judge_score_low": ("<", 0.80, 0.60),  # only with the conversation judge on
        "catalog_down": ("<", None, 1.0),
        "agent_down": ("<", None, 1.0),
        "llm_provider_down": ("<", 1.0, None),
    }
    assert [c.type for c in config.channels] == ["log"]
    assert (config.group_by, config.repeat_interval_s) == (["alertname"], 4 * 3600)


@pytest.mark.parametrize(
    ("section", "field", "message"),
    [
        (
            {"rules": [{"name": "x", "metric": "m", "op": "<", "warning": 1, "critcal": 1}]},
            "rules.0.critcal",
            "unknown",
        ),
        (
            {"rules": [{"name": "x", "metric": "m", "op": "<"}]},
            "rules.0",
            "needs a 'warning' or a 'critical'",
        ),
        (
            {"rules": [{"name": "x", "metric": "m", "op": "<", "warning": 0.7, "critical": 0.8}]},
            "rules.0",
            "beyond",
        ),
        (
            {"rules": [{"name": "x", "metric": "error_rate", "op": ">", "critical": 20}]},
            "rules.0",
            "fractions",
        ),
        (
            {"rules": [{"name": "x", "metric": "m", "op": "<", "warning": "lots%"}]},
            "rules.0.warning",
            "percentage",
        ),
        (
            {"rules": [{"name": "x", "metric": "m", "op": "<", "warning": 1, "summary": "{nope}"}]},
            "rules.0",
            "summary",
        ),
        ({"channels": [{"type": "pager"}]}, "channels.0", "tag"),
        ({"channels": [{"type": "slack"}]}, "channels.0.slack", "exactly one of 'url' and 'url_env'"),
        (
            {
                "channels": [
                    {"type": "email", "host": "h", "from_addr": "a@b", "to": ["c@d"], "tls": "none"}
                    | {"username_env": "U", "password_env": "P"}
                ]
            },
            "channels.0.email",
            "unencrypted",
        ),
        ({"channels": [{"type": "log"}, {"type": "log"}]}, "", "duplicate channel name"),
    ],
)
def test_mistakes_name_the_field(section, field, message):
    with pytest.raises(ConfigError) as caught:
        load_alerting_config(section, source="monitor.yaml")
    error = caught.value
    assert error.source == "monitor.yaml"
    assert error.field == ".".join(p for p in ["alerting", field] if p)
    assert message in error.message


def test_wildcard_rules_sample_each_component_and_skip_missing_data():
    config = load(EXAMPLE)
    values = {
        "component_up:catalog": 0,
        "component_up:agent": None,
        "component_up:llm:openai": 1,
        "success_rate": 1,
    }
    found = [(s.rule.name, s.labels.get("component"), s.value) for s in samples(config.rules, values)]
    assert found == [
        ("success_rate_low", None, 1.0),
        ("component_down", "catalog", 0.0),
        ("component_down", "llm:openai", 1.0),
    ]
