"""How a notice reads: a rule with the default summary names itself once, in every channel's text."""

from __future__ import annotations

import email
import email.policy
import logging

import pytest

from convoload.monitor.alerts import Dispatcher, EmailChannelConfig, LogChannelConfig, RuleConfig
from convoload.monitor.alerts.render import alert_line, slack_payload, text_body

from .helpers import notify_once

DEFAULT_TEMPLATE = RuleConfig(name="queue_slow", metric="success_rate", op="<", warning=0.9)


def test_the_default_summary_leaves_the_name_to_the_heading() -> None:
    [notification] = notify_once({"success_rate": 0.5}, DEFAULT_TEMPLATE)
    [alert] = notification.alerts
    assert alert.annotations["summary"] == "success_rate is 0.5 (< 0.9)"
    assert alert_line(alert) == "[WARNING] queue_slow: success_rate is 0.5 (< 0.9)"
    body_lines = [line for line in text_body(notification).splitlines() if line.startswith("- ")]
    assert body_lines == ["- [WARNING] queue_slow: success_rate is 0.5 (< 0.9)"]
    # Slack's text is the push notification: its heading already names the rule.
    text = slack_payload(notification)["text"]
    assert text == "[FIRING:1] queue_slow: [WARNING] success_rate is 0.5 (< 0.9)"


@pytest.mark.parametrize("group_by", [["alertname"], ["component"], ["..."]])
def test_every_channel_names_the_rule_once(group_by: list[str], smtp_server, caplog) -> None:
    caplog.set_level(logging.INFO, logger="convoload.alerts")
    rule = RuleConfig(name="queue_slow", metric="latency_s:*", op=">", warning=5)
    [notification] = notify_once({"latency_s:catalog": 7}, rule, group_by=group_by)
    server = smtp_server()
    email_channel = EmailChannelConfig(
        type="email",
        host="127.0.0.1",
        port=server.port,
        tls="none",
        from_addr="c@example.com",
        to=["o@example.com"],
    )
    results = Dispatcher.from_config([LogChannelConfig(), email_channel]).send(notification)
    assert [r.ok for r in results] == [True, True]

    [logged] = [r.getMessage() for r in caplog.records if r.name == "convoload.alerts"]
    assert logged == "FIRING [WARNING] queue_slow (component=catalog): latency_s:catalog is 7 (> 5)"
    [message] = server.messages
    parsed = email.message_from_bytes(message.content, policy=email.policy.default)
    [alert_body_line] = [x for x in parsed.get_content().splitlines() if x.startswith("- ")]
    assert alert_body_line.count("queue_slow") == 1
    assert slack_payload(notification)["text"].count("queue_slow") == 1
