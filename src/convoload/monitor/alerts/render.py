"""How a notification reads: plain text (log, e-mail), Slack blocks, Alertmanager's webhook JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from convoload.monitor.alerts.model import Alert, Notification

# Alertmanager sends Go's zero time as endsAt of a firing alert; receivers written for it expect that.
ZERO_TIME = "0001-01-01T00:00:00Z"
SLACK_MAX_ALERTS = 20  # Slack allows 50 blocks per message; a huge group is summarised


def iso(ts: float | None) -> str:
    if ts is None:
        return ZERO_TIME
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def title(notification: Notification) -> str:
    """Alertmanager's familiar subject: `[FIRING:2] success_rate_low`."""
    status = notification.status
    count = len(notification.firing if status == "firing" else notification.resolved)
    names = " ".join(v for _, v in sorted(notification.group_labels.items()))
    return f"[{status.upper()}:{count}] {names}".rstrip()


def alert_line(alert: Alert, *, named: bool = True) -> str:
    """`[WARNING] name (labels): summary`; `named=False` when the heading already names the rule."""
    extra = {k: v for k, v in sorted(alert.labels.items()) if k not in ("alertname", "severity")}
    where = ", ".join(f"{k}={v}" for k, v in extra.items())
    who = f"{alert.name} ({where})" if named and where else alert.name if named else where
    summary = alert.annotations.get("summary") or f"value {alert.value:g}, threshold {alert.threshold:g}"
    return f"[{alert.severity.upper()}] {who + ': ' if who else ''}{summary}"


def notice_line(alert: Alert, *, repeat: bool = False) -> str:
    """One alert as the log channel and the monitor's terminal say it: `FIRING [WARNING] name: summary`."""
    return f"{alert.state.upper()}{' (repeat)' if repeat else ''} {alert_line(alert)}"


def _when(alert: Alert) -> str:
    if alert.state == "resolved":
        return f"resolved at {iso(alert.resolved_at)}, firing since {iso(alert.fired_at)}"
    return f"firing since {iso(alert.fired_at)}"


def text_body(notification: Notification) -> str:
    lines: list[str] = []
    for heading, alerts in (("Firing", notification.firing), ("Resolved", notification.resolved)):
        if not alerts:
            continue
        lines.append(f"{heading}:")
        for alert in alerts:
            lines.append(f"- {alert_line(alert)}")
            lines.append(f"  value {alert.value:g}, threshold {alert.threshold:g}; {_when(alert)}")
            if alert.annotations.get("description"):
                lines.append(f"  {alert.annotations['description']}")
        lines.append("")
    if notification.repeat:
        lines.append("Still firing: repeated after the repeat interval.")
    lines.append(f"Group: {notification.group_key}")
    return "\n".join(lines) + "\n"


def _mrkdwn(text: str) -> str:
    # Slack treats these three as control characters in mrkdwn.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(notification: Notification) -> dict[str, Any]:
    head = title(notification)
    shown = notification.alerts[:SLACK_MAX_ALERTS]
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": head[:150]}}]
    for alert in shown:
        icon = ":red_circle:" if alert.severity == "critical" else ":large_orange_circle:"
        if alert.state == "resolved":
            icon = ":white_check_mark:"
        text = f"{icon} *{alert.state.upper()}* {_mrkdwn(alert_line(alert))}\n_{_when(alert)}_"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}})
    context = f"group {notification.group_key}"
    if len(notification.alerts) > len(shown):
        context = f"and {len(notification.alerts) - len(shown)} more alerts; {context}"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _mrkdwn(context)[:3000]}]})
    # The heading names the rule when grouped by it: the preview (phone push) says it once.
    named = "alertname" not in notification.group_labels
    summaries = "; ".join(alert_line(a, named=named) for a in shown)
    return {"text": f"{head}: {summaries}"[:3000], "blocks": blocks}


def alertmanager_payload(notification: Notification, receiver: str) -> dict[str, Any]:
    """Alertmanager's webhook body (version 4), so existing receivers work unchanged."""
    return {
        "version": "4",
        "groupKey": notification.group_key,
        "truncatedAlerts": 0,
        "status": notification.status,
        "receiver": receiver,
        "groupLabels": notification.group_labels,
        "commonLabels": notification.common_labels,
        "commonAnnotations": notification.common_annotations,
        "externalURL": "",
        "alerts": [
            {
                "status": "firing" if a.state == "firing" else "resolved",
                "labels": a.labels,
                "annotations": a.annotations,
                "startsAt": iso(a.fired_at if a.fired_at is not None else a.active_since),
                "endsAt": iso(a.resolved_at) if a.state == "resolved" else ZERO_TIME,
                "generatorURL": "",
                "fingerprint": a.fingerprint,
            }
            for a in notification.alerts
        ],
    }
