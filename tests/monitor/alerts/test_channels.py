"""Each channel against a real local server; failures are retried and reported, never raised, never leaked."""

from __future__ import annotations

import email
import email.policy
import json
import logging

import pytest

from convoload.envsecrets import redact
from convoload.monitor.alerts import (
    AlertingConfig,
    AlertManager,
    Dispatcher,
    EmailChannelConfig,
    LogChannelConfig,
    SlackChannelConfig,
    WebhookChannelConfig,
)

from .helpers import LATENCY_RULE, T0, notify_once

TOKEN = "T0AAA/B0BBB/XyZsEcReTtOkEn42"
PASSWORD = "hunter2-SMTP-pa55"
RECIPIENTS = ["oncall@example.com", "lead@example.com"]

pytestmark = pytest.mark.filterwarnings("ignore:Session.login_data is deprecated")


class Sleeps(list):
    """Injected instead of time.sleep: records the backoff, waits for nothing."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def email_config(port: int, **options) -> EmailChannelConfig:
    fields = {"type": "email", "host": "127.0.0.1", "port": port, "from_addr": "convoload@example.com"}
    return EmailChannelConfig(**fields, **{"to": RECIPIENTS, "tls": "none", **options})


def ok_app(local_app, seen: list | None = None):
    def handler(environ, body):
        if seen is not None:
            seen.append(environ)
        return 200, "ok"

    return local_app(handler)


def test_log_channel_logs_each_alert_at_its_severity(caplog):
    caplog.set_level(logging.INFO, logger="convoload.alerts")
    manager = AlertManager(AlertingConfig(rules=[LATENCY_RULE]), lambda: T0)
    [notification] = manager.evaluate({"latency_s:catalog": 12, "latency_s:agent": 7})

    [result] = Dispatcher.from_config([LogChannelConfig()]).send(notification)

    assert (result.channel, result.ok, result.attempts, result.error) == ("log", True, 1, None)
    records = [(r.name, r.levelno, r.getMessage()) for r in caplog.records]
    assert records == [
        (
            "convoload.alerts",
            logging.ERROR,
            "FIRING [CRITICAL] latency_high (component=catalog): catalog is slow",
        ),
        (
            "convoload.alerts",
            logging.WARNING,
            "FIRING [WARNING] latency_high (component=agent): agent is slow",
        ),
    ]


def test_email_plain(smtp_server):
    server = smtp_server()
    [notification] = notify_once({"success_rate": 0.5})

    [result] = Dispatcher.from_config([email_config(server.port)]).send(notification)

    assert result.ok and result.attempts == 1
    [received] = server.messages
    assert (received.sender, received.recipients, received.authenticated) == (
        "convoload@example.com",
        RECIPIENTS,
        False,
    )
    message = email.message_from_bytes(received.content, policy=email.policy.default)
    assert message["Subject"] == "[convoload] [FIRING:1] success_rate_low"
    assert message["To"] == ", ".join(RECIPIENTS)
    body = message.get_content()
    assert "[CRITICAL] success_rate_low: Success rate 50% is below 70%" in body
    assert "firing since 2023-11-14T22:13:20.000Z" in body


def test_email_starttls_with_credentials_from_the_environment(smtp_server, tls_cert, monkeypatch):
    server = smtp_server(tls="starttls", login=("alerts", PASSWORD))
    monkeypatch.setenv("TEST_SMTP_USER", "alerts")
    monkeypatch.setenv("TEST_SMTP_PASSWORD", PASSWORD)
    config = email_config(
        server.port,
        tls="starttls",
        ca_file=str(tls_cert),
        username_env="TEST_SMTP_USER",
        password_env="TEST_SMTP_PASSWORD",
    )
    [notification] = notify_once({"success_rate": 0.5})

    [result] = Dispatcher.from_config([config]).send(notification)

    assert result.ok, result.error
    [received] = server.messages  # the server offers AUTH only after STARTTLS and requires it
    assert received.authenticated
    # The user name is no secret: remembering "alerts" as one scrubbed every "convoload.alerts" after.
    assert redact("logger convoload.alerts") == "logger convoload.alerts"


def test_email_implicit_tls(smtp_server, tls_cert):
    server = smtp_server(tls="ssl")
    [notification] = notify_once({"success_rate": 0.5})
    [result] = Dispatcher.from_config([email_config(server.port, tls="ssl", ca_file=str(tls_cert))]).send(
        notification
    )
    assert result.ok, result.error
    assert len(server.messages) == 1


def test_email_refuses_an_untrusted_certificate(smtp_server):
    server = smtp_server(tls="starttls")
    [notification] = notify_once({"success_rate": 0.5})
    sleeps = Sleeps()
    [result] = Dispatcher.from_config(
        [email_config(server.port, tls="starttls", retries=0)], sleep=sleeps
    ).send(notification)
    assert not result.ok and "CERTIFICATE_VERIFY_FAILED" in result.error
    assert server.messages == []


def test_wrong_smtp_password_fails_once_without_leaking(smtp_server, tls_cert, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    server = smtp_server(tls="starttls", login=("alerts", "the-right-one"))
    monkeypatch.setenv("TEST_SMTP_USER", "alerts")
    monkeypatch.setenv("TEST_SMTP_PASSWORD", PASSWORD)
    config = email_config(
        server.port,
        tls="starttls",
        ca_file=str(tls_cert),
        username_env="TEST_SMTP_USER",
        password_env="TEST_SMTP_PASSWORD",
    )
    [notification] = notify_once({"success_rate": 0.5})
    sleeps = Sleeps()

    [result] = Dispatcher.from_config([config], sleep=sleeps).send(notification)

    assert (result.ok, result.attempts, sleeps) == (False, 1, [])  # 535 is permanent: no retry
    assert "535" in result.error
    assert PASSWORD not in result.error and PASSWORD not in caplog.text
    assert "failed after 1 attempt(s)" in caplog.text
    assert server.messages == []


def test_a_missing_secret_is_reported_by_name(monkeypatch):
    monkeypatch.delenv("TEST_SLACK_URL", raising=False)
    [notification] = notify_once({"success_rate": 0.5})
    config = SlackChannelConfig(type="slack", url_env="TEST_SLACK_URL")
    [result] = Dispatcher.from_config([config], sleep=Sleeps()).send(notification)
    assert (result.ok, result.attempts) == (False, 1)
    assert "TEST_SLACK_URL" in result.error


def test_slack_gets_text_and_blocks(local_app, monkeypatch):
    app = ok_app(local_app)
    monkeypatch.setenv("TEST_SLACK_URL", f"{app.url}/services/{TOKEN}")
    [notification] = notify_once({"latency_s:catalog": 12, "latency_s:agent": 7}, LATENCY_RULE)

    [result] = Dispatcher.from_config([SlackChannelConfig(type="slack", url_env="TEST_SLACK_URL")]).send(
        notification
    )

    assert result.ok, result.error
    [(path, body)] = app.requests
    assert path == f"/services/{TOKEN}"
    payload = json.loads(body)
    # The heading names the rule; the preview's alert lines do not repeat it.
    assert payload["text"] == (
        "[FIRING:2] latency_high: [CRITICAL] component=catalog: catalog is slow; "
        "[WARNING] component=agent: agent is slow"
    )
    header, *sections, context = payload["blocks"]
    assert header == {"type": "header", "text": {"type": "plain_text", "text": "[FIRING:2] latency_high"}}
    assert [s["type"] for s in sections] == ["section", "section"]
    assert sections[0]["text"]["type"] == "mrkdwn"
    assert (
        "*FIRING* [CRITICAL] latency_high (component=catalog): catalog is slow" in sections[0]["text"]["text"]
    )
    assert context["type"] == "context"


def test_webhook_speaks_alertmanager_format(local_app, monkeypatch, clock):
    seen: list[dict] = []
    app = ok_app(local_app, seen)
    monkeypatch.setenv("TEST_HOOK_AUTH", "Bearer hook-secret-123")
    config = WebhookChannelConfig(
        type="webhook", name="oncall", url=f"{app.url}/hook", headers_env={"Authorization": "TEST_HOOK_AUTH"}
    )
    dispatcher = Dispatcher.from_config([config])
    manager = AlertManager(AlertingConfig(rules=[LATENCY_RULE]), clock)

    [fired] = manager.evaluate({"latency_s:agent": 7})
    clock.advance(90)
    [resolved] = manager.evaluate({"latency_s:agent": 1})
    assert [r.ok for n in (fired, resolved) for r in dispatcher.send(n)] == [True, True]

    first, second = (json.loads(body) for _, body in app.requests)
    assert seen[0]["HTTP_AUTHORIZATION"] == "Bearer hook-secret-123"
    assert seen[0]["CONTENT_TYPE"] == "application/json"
    labels = {"alertname": "latency_high", "component": "agent", "severity": "warning"}
    assert first == {
        "version": "4",
        "groupKey": '{}:{alertname="latency_high"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "oncall",
        "groupLabels": {"alertname": "latency_high"},
        "commonLabels": labels,
        "commonAnnotations": {"summary": "agent is slow"},
        "externalURL": "",
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": {"summary": "agent is slow"},
                "startsAt": "2023-11-14T22:13:20.000Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "",
                "fingerprint": fired.alerts[0].fingerprint,
            }
        ],
    }
    assert second["status"] == "resolved"
    assert second["alerts"][0]["status"] == "resolved"
    assert second["alerts"][0]["endsAt"] == "2023-11-14T22:14:50.000Z"


def test_down_channels_are_retried_and_reported_while_others_deliver(local_app, refused_port):
    broken = local_app(lambda environ, body: (500, {"error": "boom"}))
    healthy = ok_app(local_app)
    configs = [
        WebhookChannelConfig(
            type="webhook", name="refused", url=f"http://127.0.0.1:{refused_port}/x", backoff_s=2
        ),
        WebhookChannelConfig(
            type="webhook", name="broken", url=f"{broken.url}/hook", retries=3, backoff_s=0.5
        ),
        WebhookChannelConfig(type="webhook", name="healthy", url=f"{healthy.url}/hook"),
    ]
    sleeps = Sleeps()
    dispatcher = Dispatcher.from_config(configs, sleep=sleeps)
    [notification] = notify_once({"success_rate": 0.5})

    results = dispatcher.send(notification)

    assert [(r.channel, r.ok, r.attempts) for r in results] == [
        ("refused", False, 3),
        ("broken", False, 4),
        ("healthy", True, 1),
    ]
    assert "ConnectError" in results[0].error
    assert "HTTP 500" in results[1].error
    assert len(broken.requests) == 4 and len(healthy.requests) == 1
    assert sleeps == [2, 4, 0.5, 1, 2]  # exponential backoff per channel
    assert dispatcher.recent == results


def test_a_client_error_is_not_retried(local_app):
    gone = local_app(lambda environ, body: (404, "no_service"))
    [notification] = notify_once({"success_rate": 0.5})
    config = SlackChannelConfig(type="slack", url=f"{gone.url}/services/{TOKEN}")
    [result] = Dispatcher.from_config([config], sleep=Sleeps()).send(notification)
    assert (result.ok, result.attempts) == (False, 1)
    assert "HTTP 404 no_service" in result.error


def test_severity_routing(local_app):
    pager, chat = ok_app(local_app), ok_app(local_app)
    configs = [
        WebhookChannelConfig(type="webhook", name="pager", url=f"{pager.url}/p", severities=["critical"]),
        WebhookChannelConfig(type="webhook", name="chat", url=f"{chat.url}/c"),
    ]
    dispatcher = Dispatcher.from_config(configs)
    [mixed] = notify_once({"latency_s:catalog": 12, "latency_s:agent": 7}, LATENCY_RULE)
    [warning_only] = notify_once({"latency_s:agent": 7}, LATENCY_RULE)

    assert [r.channel for r in dispatcher.send(mixed)] == ["pager", "chat"]
    assert [r.channel for r in dispatcher.send(warning_only)] == ["chat"]

    [(_, paged)] = pager.requests
    assert [a["labels"]["severity"] for a in json.loads(paged)["alerts"]] == ["critical"]
    assert [len(json.loads(body)["alerts"]) for _, body in chat.requests] == [2, 1]


def test_webhook_secrets_never_reach_logs_or_errors(local_app, refused_port, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)  # httpx logs every request URL at INFO
    healthy = ok_app(local_app)
    broken = local_app(lambda environ, body: (500, f"cannot route {environ['PATH_INFO']}"))
    monkeypatch.setenv("TEST_SLACK_URL", f"{healthy.url}/services/{TOKEN}")
    configs = [
        SlackChannelConfig(type="slack", name="ok", url_env="TEST_SLACK_URL"),
        SlackChannelConfig(type="slack", name="500", url=f"{broken.url}/services/{TOKEN}"),
        SlackChannelConfig(
            type="slack", name="refused", url=f"http://127.0.0.1:{refused_port}/services/{TOKEN}"
        ),
    ]
    [notification] = notify_once({"success_rate": 0.5})

    results = Dispatcher.from_config(configs, sleep=Sleeps()).send(notification)

    assert [r.ok for r in results] == [True, False, False]
    assert len(healthy.requests) == 1 and len(broken.requests) == 3
    secret_part = TOKEN.split("/")[-1]
    assert all(secret_part not in (r.error or "") for r in results)
    assert "HTTP 500" in results[1].error and f"127.0.0.1:{broken.server.server_port}/***" in results[1].error
    requests_logged = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert requests_logged and all("***" in m for m in requests_logged)  # the scrubber did run
    assert secret_part not in caplog.text
