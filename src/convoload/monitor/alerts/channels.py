"""Notification channels: log, e-mail (SMTP), Slack incoming webhook, generic (Alertmanager-format) webhook.

A channel's `deliver` either returns or raises; retrying, reporting and never letting a failure escape
are the Dispatcher's job. Secrets are read from the environment at delivery time (a rotated secret is
picked up without a restart) and remembered so that every log line and error text is scrubbed of them.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from abc import ABC, abstractmethod
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

import httpx

from convoload.envsecrets import env_value, secret_from_env
from convoload.errors import ConvoloadError
from convoload.monitor.alerts.model import (
    Alert,
    ChannelConfig,
    EmailChannelConfig,
    LogChannelConfig,
    Notification,
    SlackChannelConfig,
    WebhookChannelConfig,
)
from convoload.monitor.alerts.redaction import protect_logger, remember, remember_url, safe_url
from convoload.monitor.alerts.render import (
    alertmanager_payload,
    notice_line,
    slack_payload,
    text_body,
    title,
)

logger = logging.getLogger("convoload.alerts")


class ChannelError(ConvoloadError):
    """A delivery failed. `retry=False` when trying again cannot help (bad credentials, missing env var)."""

    def __init__(self, message: str, *, retry: bool = True) -> None:
        super().__init__(message)
        self.retry = retry


class Channel(ABC):
    def __init__(self, config: Any) -> None:
        self.name: str = config.label
        self.severities = frozenset(config.severities)
        self.retries: int = config.retries
        self.backoff_s: float = config.backoff_s
        self.timeout_s: float = config.timeout_s

    @abstractmethod
    def deliver(self, notification: Notification) -> None: ...


def _env(name: str, what: str, *, secret: bool = True) -> str:
    # A user name is no secret: scrubbing a common word ("alerts") would mangle every later log line.
    value = secret_from_env(name) if secret else env_value(name)
    if not value:
        raise ChannelError(f"environment variable {name} ({what}) is not set", retry=False)
    if secret:
        remember(value)
    return value


def _written(log: logging.Logger, level: int) -> bool:
    """Whether a record at `level` reaches a handler that takes it (as `Logger.callHandlers` decides)."""
    if not log.isEnabledFor(level):
        return False
    found = False
    current: logging.Logger | None = log
    while current is not None:
        for handler in current.handlers:
            found = True
            if level >= handler.level:
                return True
        current = current.parent if current.propagate else None
    return not found and logging.lastResort is not None and level >= logging.lastResort.level


class LogChannel(Channel):
    """One record per alert on `convoload.alerts`: critical ERROR, warning WARNING, resolved INFO.

    The monitor writes them to `logs/alerts.log`. A level that no handler takes fails the delivery
    instead of counting a notice nobody will ever read as delivered.
    """

    def __init__(self, config: LogChannelConfig) -> None:
        super().__init__(config)

    def deliver(self, notification: Notification) -> None:
        levels = [_level(alert) for alert in notification.alerts]
        unwritten = sorted({logging.getLevelName(level) for level in levels if not _written(logger, level)})
        if unwritten:
            raise ChannelError(
                f"no log handler takes {'/'.join(unwritten)} records of {logger.name}", retry=False
            )
        for alert, level in zip(notification.alerts, levels, strict=True):
            logger.log(
                level,
                "%s",
                notice_line(alert, repeat=notification.repeat),
                extra={"alert_fingerprint": alert.fingerprint, "alert_group": notification.group_key},
            )


def _level(alert: Alert) -> int:
    if alert.state == "resolved":
        return logging.INFO
    return logging.ERROR if alert.severity == "critical" else logging.WARNING


class EmailChannel(Channel):
    def __init__(self, config: EmailChannelConfig) -> None:
        super().__init__(config)
        self.config = config

    def message(self, notification: Notification) -> EmailMessage:
        cfg = self.config
        msg = EmailMessage()
        # Label values end up in the subject: no line breaks, or the header would be refused.
        subject = f"{cfg.subject_prefix} {title(notification)}".strip()
        msg["Subject"] = " ".join(subject.split())
        msg["From"] = cfg.from_addr
        msg["To"] = ", ".join(cfg.to)
        msg["Date"] = formatdate(usegmt=True)
        msg["Message-ID"] = make_msgid(domain=cfg.from_addr.rsplit("@", 1)[1])
        msg.set_content(text_body(notification))
        return msg

    def deliver(self, notification: Notification) -> None:
        cfg = self.config
        username = _env(cfg.username_env, "SMTP username", secret=False) if cfg.username_env else None
        password = _env(cfg.password_env, "SMTP password") if cfg.password_env else ""
        msg = self.message(notification)
        context = ssl.create_default_context(cafile=cfg.ca_file) if cfg.tls != "none" else None
        try:
            if cfg.tls == "ssl":
                client = smtplib.SMTP_SSL(
                    cfg.host, cfg.effective_port, timeout=self.timeout_s, context=context
                )
            else:
                client = smtplib.SMTP(cfg.host, cfg.effective_port, timeout=self.timeout_s)
            with client:
                if cfg.tls == "starttls":
                    client.starttls(context=context)  # raises if unsupported: never fall back to plain text
                if username:
                    client.login(username, password)
                client.send_message(msg)
        except smtplib.SMTPNotSupportedError as exc:
            raise ChannelError(f"SMTP {cfg.host}: {exc}", retry=False) from None
        except smtplib.SMTPResponseException as exc:
            reply = (
                exc.smtp_error.decode(errors="replace")
                if isinstance(exc.smtp_error, bytes)
                else exc.smtp_error
            )
            # 5xx replies are permanent (bad credentials, refused sender); 4xx are worth another try.
            raise ChannelError(
                f"SMTP {cfg.host}: {exc.smtp_code} {reply}", retry=exc.smtp_code < 500
            ) from None


class _HttpChannel(Channel):
    def __init__(self, config: SlackChannelConfig | WebhookChannelConfig) -> None:
        super().__init__(config)
        self.url_config, self.url_env = config.url, config.url_env
        if config.url:
            remember_url(config.url)
        protect_logger("httpx")

    def _url(self) -> str:
        url = self.url_config or _env(self.url_env or "", "webhook URL")
        remember_url(url)
        if not url.startswith(("http://", "https://")):
            raise ChannelError(f"{self.url_env} does not hold an http(s) URL", retry=False)
        return url

    def _post(self, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        url = self._url()
        try:
            with httpx.Client(timeout=self.timeout_s) as client:
                response = client.post(
                    url, json=payload, headers={"User-Agent": "convoload-alerts", **(headers or {})}
                )
        except httpx.HTTPError as exc:
            # `from None`: the original exception (and its traceback) may carry the URL.
            raise ChannelError(f"POST {safe_url(url)}: {type(exc).__name__}: {exc}") from None
        if response.status_code >= 300:
            # A 4xx means the request itself is wrong (revoked hook, bad payload): repeating it won't help.
            retry = response.status_code >= 500 or response.status_code in (408, 429)
            detail = response.text[:200].strip()
            raise ChannelError(
                f"POST {safe_url(url)}: HTTP {response.status_code} {detail}".strip(), retry=retry
            )


class SlackChannel(_HttpChannel):
    """Slack incoming webhook: `text` (fallback, notifications) plus `blocks` (the message itself)."""

    def deliver(self, notification: Notification) -> None:
        self._post(slack_payload(notification))


class WebhookChannel(_HttpChannel):
    """Any HTTP endpoint that understands Alertmanager's webhook JSON (version 4)."""

    def __init__(self, config: WebhookChannelConfig) -> None:
        super().__init__(config)
        self.headers_env = dict(config.headers_env)

    def deliver(self, notification: Notification) -> None:
        headers = {name: _env(env, f"header {name}") for name, env in self.headers_env.items()}
        self._post(alertmanager_payload(notification, receiver=self.name), headers)


def build_channel(config: ChannelConfig) -> Channel:
    if isinstance(config, LogChannelConfig):
        return LogChannel(config)
    if isinstance(config, EmailChannelConfig):
        return EmailChannel(config)
    if isinstance(config, SlackChannelConfig):
        return SlackChannel(config)
    return WebhookChannel(config)
