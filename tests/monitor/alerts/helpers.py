"""What the alert tests share: a hand-driven clock, the rules they evaluate, one engine's first notices,
and the records of the real SMTP server a fixture starts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from convoload.monitor.alerts import AlertingConfig, AlertManager, Notification, RuleConfig

T0 = 1_700_000_000.0


class ManualClock:
    """Time moves only when a test says so."""

    def __init__(self, start: float = T0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


SUCCESS_RULE = RuleConfig(
    name="success_rate_low",
    metric="success_rate",
    op="<",
    warning="85%",
    critical="70%",
    summary="Success rate {value:.0%} is below {threshold:.0%}",
)
LATENCY_RULE = RuleConfig(
    name="latency_high", metric="latency_s:*", op=">", warning=5, critical=10, summary="{component} is slow"
)


def notify_once(values: dict[str, float], *rules: RuleConfig, **config: Any) -> list[Notification]:
    """What a fresh engine (for_s 0) sends on its first evaluation: real notifications for channel tests."""
    manager = AlertManager(AlertingConfig(rules=list(rules or [SUCCESS_RULE]), **config), ManualClock())
    return manager.evaluate(values)


@dataclass
class Received:
    sender: str
    recipients: list[str]
    content: bytes
    authenticated: bool


@dataclass
class SmtpServer:
    """A real aiosmtpd server (fixture `smtp_server`) and the messages it accepted."""

    port: int
    messages: list[Received] = field(default_factory=list)


class SmtpHandler:
    """aiosmtpd's handler: keeps each message on its SmtpServer."""

    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        # Stored before the 250 reply, so the message is here once the client's send returns.
        self.server.messages.append(
            Received(
                envelope.mail_from, list(envelope.rcpt_tos), envelope.content, bool(session.authenticated)
            )
        )
        return "250 OK"
