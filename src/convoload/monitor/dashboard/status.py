"""The dashboard's view of the store: overall status, current metrics, alerts, components, jobs."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from convoload.model import utc_now
from convoload.monitor.store import AlertRow, DeliveryRow, JobRow, MonitorStore, Sample
from convoload.store.results.schema import conversations, monitor_jobs

SEVERITY_STATUS = {"critical": "critical", "warning": "warning"}
# Failures of the agent only: the simulator's own faults and conversations cut off by the end of a
# test are not the agent's to fix.
NOT_FAILURES = ("goal_reached", "simulator_error", "interrupted")
FAILED_SHOWN = 20


@dataclass(frozen=True)
class Card:
    key: str
    metric: str
    label: str
    unit: str  # ratio | seconds | count | usd — how the page formats the value


CARDS = [
    Card("success_ratio", "convoload_success_ratio", "Success rate", "ratio"),
    Card("response_time_mean", "convoload_response_time_mean_seconds", "Mean response time", "seconds"),
    Card("response_time_p95", "convoload_response_time_p95_seconds", "p95 response time", "seconds"),
    Card("error_ratio", "convoload_error_ratio", "Error rate", "ratio"),
    Card("concurrent_users", "convoload_concurrent_users", "Concurrent users", "count"),
    Card("fallback_ratio", "convoload_llm_fallback_ratio", "LLM fallback rate", "ratio"),
    Card("conversations_window", "convoload_conversations_window", "Conversations in window", "count"),
    Card("tokens", "convoload_tokens_total", "Tokens (total)", "count"),
    Card("cost", "convoload_cost_usd_total", "Cost (total)", "usd"),
]

# Trend charts on the page: each draws every series of its metrics from /api/series; `legend` names
# a metric shortly (otherwise the name and labels are shown).
CHARTS: list[dict[str, Any]] = [
    {
        "id": "success-ratio",
        "title": "Success ratio",
        "unit": "ratio",
        "metrics": ["convoload_success_ratio"],
    },
    {"id": "error-ratio", "title": "Error ratio", "unit": "ratio", "metrics": ["convoload_error_ratio"]},
    {
        "id": "response-time",
        "title": "Response time (mean, p95)",
        "unit": "seconds",
        "metrics": ["convoload_response_time_mean_seconds", "convoload_response_time_p95_seconds"],
        "legend": {
            "convoload_response_time_mean_seconds": "mean",
            "convoload_response_time_p95_seconds": "p95",
        },
    },
    {
        "id": "concurrent-users",
        "title": "Concurrent users",
        "unit": "count",
        "metrics": ["convoload_concurrent_users"],
    },
]


def parse_ts(value: str) -> datetime:
    """A store timestamp (ISO-8601, `Z` or offset) as an aware UTC datetime."""
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def overall_status(alerts: list[AlertRow]) -> str:
    """critical when a non-inhibited critical alert fires, warning for a firing warning, else healthy.

    Pending alerts have not yet held for their `for` duration, and an inhibited alert is
    suppressed by a firing one that already sets the status, so neither counts.
    """
    firing = {a.severity for a in alerts if a.state == "firing" and not a.inhibited}
    for severity in ("critical", "warning"):
        if severity in firing:
            return SEVERITY_STATUS[severity]
    return "healthy"


def newest_sample_at(latest: list[Sample]) -> str | None:
    stamps = [s.at for s in latest if s.at]
    return max(stamps, key=parse_ts) if stamps else None


def job_report(store: MonitorStore, job_id: int) -> str | None:
    """The report path recorded for one job (MonitorStore has no by-id lookup)."""
    with store.engine.connect() as conn:
        return conn.execute(select(monitor_jobs.c.report).where(monitor_jobs.c.id == job_id)).scalar()


def failed_conversations(store: MonitorStore, runs_root: Path | None) -> list[dict[str, Any]]:
    """The newest conversations that missed their goal, each with the command that exports it as a
    pytest test (`convoload export`, finding its run under the monitor's runs folder)."""
    c = conversations.c
    query = (
        select(c.run_id, c.session_id, c.persona, c.outcome, c.stop_reason, c.error_kind, c.finished_at)
        .where(c.goal_reached.is_(False), c.outcome.not_in(NOT_FAILURES))
        .order_by(c.id.desc())
        .limit(FAILED_SHOWN)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    where = ["--runs-dir", str(runs_root)] if runs_root is not None else []
    out = []
    for run_id, session_id, persona, outcome, stop_reason, error_kind, finished_at in rows:
        command = ["convoload", "export", run_id, "--session", session_id, "--as", "pytest", *where]
        out.append(
            {
                "run_id": run_id,
                "session_id": session_id,
                "persona": persona,
                "outcome": outcome,
                "reason": error_kind or stop_reason,
                "finished_at": finished_at,
                "export": shlex.join(command),
            }
        )
    return out


def build_status(
    store: MonitorStore,
    *,
    stale_after_s: float,
    title: str,
    now: datetime | None = None,
    runs_root: Path | None = None,
) -> dict[str, Any]:
    """Everything the page shows, as one JSON-ready document."""
    now = now or parse_ts(utc_now())
    latest = store.latest()
    alerts = store.alerts()
    last_at = newest_sample_at(latest)
    age = (now - parse_ts(last_at)).total_seconds() if last_at else None
    return {
        "title": title,
        "generated_at": iso(now),
        "status": overall_status(alerts),
        "stale": age is None or age > stale_after_s,
        "stale_after_s": stale_after_s,
        "last_sample_at": last_at,
        "last_sample_age_s": age,
        "metrics": _cards(latest, now, stale_after_s),
        "transitions": _transitions(latest),
        "alerts": [_alert(a) for a in alerts],
        "alert_counts": {
            state: sum(1 for a in alerts if a.state == state) for state in ("firing", "pending")
        },
        "components": _components(latest),
        "jobs": [_job(j) for j in store.jobs(limit=25)],
        "failed_conversations": failed_conversations(store, runs_root),
        "deliveries": [_delivery(d) for d in store.deliveries(limit=25)],
        "channels": _channels(store.deliveries(limit=500)),
    }


def series_document(
    store: MonitorStore, name: str, hours: float, now: datetime | None = None
) -> dict[str, Any]:
    """One metric's samples of the last `hours`, grouped by label set, as [[at, value], ...]."""
    now = now or parse_ts(utc_now())
    since = iso(now - timedelta(hours=hours))
    grouped: dict[str, dict[str, Any]] = {}
    for sample in store.series(name, since=since):
        entry = grouped.setdefault(
            sample.series, {"key": sample.series, "labels": sample.labels, "points": []}
        )
        entry["points"].append([sample.at, sample.value])
    return {"name": name, "hours": hours, "since": since, "series": list(grouped.values())}


def _cards(latest: list[Sample], now: datetime, stale_after_s: float) -> list[dict[str, Any]]:
    """The current value of each card, `stale` when the newest collection did not measure it.

    Every collection writes its cards at once; one with no value then (e.g. no p95 in an empty
    window) keeps its older sample, which must not read as current: it is marked stale with its time.
    """
    unlabelled = {s.name: s for s in latest if not s.labels}
    shown = [unlabelled[c.metric] for c in CARDS if c.metric in unlabelled]
    collected = max((parse_ts(s.at) for s in shown if s.at), default=now)  # the newest collection
    cards = []
    for card in CARDS:
        sample = unlabelled.get(card.metric)
        age, stale = None, False
        if sample is not None and sample.at:
            at = parse_ts(sample.at)
            age = (now - at).total_seconds()
            stale = at < collected or age > stale_after_s
        cards.append(
            {
                "key": card.key,
                "metric": card.metric,
                "label": card.label,
                "unit": card.unit,
                "value": sample.value if sample else None,
                "at": sample.at if sample else None,
                "age_s": age,
                "stale": stale,
            }
        )
    return cards


def _transitions(latest: list[Sample]) -> list[dict[str, Any]]:
    rows = [
        {"from": s.labels.get("from_agent", ""), "to": s.labels.get("to_agent", ""), "count": s.value}
        for s in latest
        if s.name == "convoload_agent_transitions"
    ]
    return sorted(rows, key=lambda r: (-r["count"], r["from"], r["to"]))


def _components(latest: list[Sample]) -> list[dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for s in latest:
        component = s.labels.get("component")
        if component is None:
            continue
        entry = found.setdefault(
            component, {"component": component, "up": None, "latency_s": None, "at": None}
        )
        if s.name == "convoload_component_up":
            entry["up"] = s.value >= 1
            entry["at"] = s.at
        elif s.name == "convoload_component_latency_seconds":
            entry["latency_s"] = s.value
    return [found[k] for k in sorted(found)]


def _alert(a: AlertRow) -> dict[str, Any]:
    return {
        "fingerprint": a.fingerprint,
        "name": a.name,
        "severity": a.severity,
        "state": a.state,
        "inhibited": a.inhibited,
        "labels": a.labels,
        "annotations": a.annotations,
        "value": a.value,
        "threshold": a.threshold,
        "since": (a.fired_at if a.state == "firing" else a.active_since) or a.active_since,
        "active_since": a.active_since,
        "fired_at": a.fired_at,
    }


def _job(j: JobRow) -> dict[str, Any]:
    return {
        "id": j.id,
        "job": j.job,
        "started_at": j.started_at,
        "finished_at": j.finished_at,
        "status": j.status,
        "run_id": j.run_id,
        "summary": j.summary.to_json() if j.summary is not None else None,
        "error": j.error,
        "report_url": f"/reports/{j.id}" if j.report else None,
    }


def _delivery(d: DeliveryRow) -> dict[str, Any]:
    return {
        "at": d.at,
        "channel": d.channel,
        "status": d.status,
        "alerts": d.alerts,
        "ok": d.ok,
        "attempts": d.attempts,
        "error": d.error,
    }


def _channels(recent: list[DeliveryRow]) -> list[dict[str, Any]]:
    """Each channel's newest delivery: a channel whose last attempt failed is failing now."""
    newest: dict[str, DeliveryRow] = {}
    for d in recent:  # newest first
        newest.setdefault(d.channel, d)
    return [{"channel": c, "ok": d.ok, "last_at": d.at, "error": d.error} for c, d in sorted(newest.items())]
