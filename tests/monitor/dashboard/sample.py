"""A monitor store with an hour of samples, alerts, jobs (with report files) and deliveries.

Every value the tests compare is written here once; the newest samples are the `LATEST` values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from convoload.monitor.store import MonitorStore, Sample

MINUTES = 60  # recent samples, one a minute, the newest 10 s before seeding
OLD_HOURS = 26  # two more samples this long ago: outside a 24 h window, inside 48 h

# name, labels -> the newest value (binary-exact floats: they survive the text format unchanged)
LATEST: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {
    ("convoload_health_status", ()): 2,
    ("convoload_conversations_window", ()): 16,
    ("convoload_success_ratio", ()): 0.875,
    ("convoload_error_ratio", ()): 0.0625,
    ("convoload_response_time_mean_seconds", ()): 1.25,
    ("convoload_response_time_p95_seconds", ()): 3.5,
    ("convoload_concurrent_users", ()): 4,
    ("convoload_llm_fallback_ratio", ()): 0.125,
    ("convoload_agent_transitions", (("from_agent", "triage"), ("to_agent", "sales"))): 3,
    ("convoload_agent_transitions", (("from_agent", "sales"), ("to_agent", "visits"))): 2,
    ("convoload_component_up", (("component", "agent"),)): 1,
    ("convoload_component_up", (("component", "catalog"),)): 1,
    ("convoload_component_up", (("component", "llm:openrouter"),)): 0,
    ("convoload_component_latency_seconds", (("component", "agent"),)): 0.25,
    ("convoload_component_latency_seconds", (("component", "catalog"),)): 0.03125,
    ("convoload_component_latency_seconds", (("component", "llm:openrouter"),)): 5.0,
    ("convoload_conversations_total", (("outcome", "completed"),)): 40,
    ("convoload_conversations_total", (("outcome", "failed"),)): 5,
    ("convoload_turn_errors_total", (("kind", "timeout"),)): 7,
    ("convoload_tokens_total", ()): 12345,
    ("convoload_cost_usd_total", ()): 0.75,
}
# The summary holds markup on purpose: the page must show it as text.
CRITICAL_SUMMARY = "agent errors at 6% <img src=x onerror=\"document.title='pwned'\">"
REPORT_MARKER = "collect job report 7f3a"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def samples_at(step: int) -> list[Sample]:
    """The samples of one collection; step 0 is the newest (the LATEST values), larger is older."""
    out = []
    for (name, labels), value in LATEST.items():
        # Ratios and times drift with age, so each point of a trend is distinguishable.
        drift = {"convoload_success_ratio": -0.001, "convoload_response_time_p95_seconds": 0.01}.get(name, 0)
        out.append(Sample(name, value + drift * step, dict(labels)))
    return out


@dataclass
class Seeded:
    url: str
    runs_root: Path
    store: MonitorStore
    newest_at: str
    jobs: dict[str, int]  # role -> job id
    job_counts: dict[tuple[str, str], int]


def _alert(name: str, severity: str, state: str, *, inhibited: bool = False, **extra: Any) -> dict[str, Any]:
    return {
        "fingerprint": f"fp-{name}",
        "name": name,
        "severity": severity,
        "state": state,
        "inhibited": inhibited,
        "labels": extra.get("labels", {}),
        "annotations": extra.get("annotations", {}),
        "value": extra.get("value"),
        "threshold": extra.get("threshold"),
        "active_since": extra.get("active_since"),
        "fired_at": extra.get("fired_at"),
        "resolved_at": extra.get("resolved_at"),
    }


def alerts_firing(now: datetime) -> list[dict[str, Any]]:
    """A firing critical, a pending warning, and a firing warning the critical inhibits."""
    return [
        _alert(
            "AgentErrorRateHigh",
            "critical",
            "firing",
            labels={"component": "agent"},
            annotations={"summary": CRITICAL_SUMMARY},
            value=0.0625,
            threshold=0.05,
            active_since=iso(now - timedelta(minutes=7)),
            fired_at=iso(now - timedelta(minutes=2)),
        ),
        _alert(
            "ResponseTimeP95High",
            "warning",
            "pending",
            annotations={"summary": "p95 above 3 s"},
            value=3.5,
            threshold=3.0,
            active_since=iso(now - timedelta(minutes=1)),
        ),
        _alert(
            "SuccessRatioLow",
            "warning",
            "firing",
            inhibited=True,
            value=0.875,
            threshold=0.9,
            active_since=iso(now - timedelta(minutes=9)),
            fired_at=iso(now - timedelta(minutes=4)),
        ),
    ]


def alerts_resolved(now: datetime) -> list[dict[str, Any]]:
    """The critical resolved (and the warning it inhibited with it); the pending warning stays."""
    current = alerts_firing(now)
    for alert in (current[0], current[2]):
        alert.update(state="resolved", inhibited=False, resolved_at=iso(now))
    return current


def seed(root: Path) -> Seeded:
    runs = root / "runs"
    runs.mkdir(parents=True)
    url = f"sqlite:///{runs / 'results.sqlite'}"
    store = MonitorStore(url)
    now = datetime.now(UTC)
    for i, hours in enumerate((OLD_HOURS + 1, OLD_HOURS)):
        store.add_samples(samples_at(MINUTES + 1 - i), at=iso(now - timedelta(hours=hours)))
    newest = now - timedelta(seconds=10)
    for step in range(MINUTES - 1, -1, -1):
        store.add_samples(samples_at(step), at=iso(newest - timedelta(minutes=step)))

    # Reports: one absolute, one relative to runs_root, and three that must never be served.
    (runs / "collect-1").mkdir()
    (runs / "collect-1" / "report.html").write_text(f"<h1>{REPORT_MARKER}</h1>", encoding="utf-8")
    (runs / "daily-1").mkdir()
    (runs / "daily-1" / "report.html").write_text("<h1>daily</h1>", encoding="utf-8")
    outside = root / "outside"
    outside.mkdir()
    (outside / "secret.html").write_text("secret", encoding="utf-8")
    (runs / "link.html").symlink_to(outside / "secret.html")

    plan = [  # role, job, status, report
        ("collect", "collect", "ok", str(runs / "collect-1" / "report.html")),
        ("failed", "stress", "failed", None),
        ("relative", "daily", "ok", "daily-1"),  # a run folder: its report.html is served
        ("outside", "pipeline", "ok", str(outside / "secret.html")),
        ("dotdot", "pipeline", "ok", "../outside/secret.html"),
        ("symlink", "pipeline", "ok", str(runs / "link.html")),
        ("missing", "stress", "ok", str(runs / "gone" / "report.html")),
    ]
    jobs: dict[str, int] = {}
    counts: dict[tuple[str, str], int] = {}
    for i, (role, job, status, report) in enumerate(plan):
        started = iso(now - timedelta(minutes=30 - i))
        job_id = store.start_job(job, started_at=started)
        store.finish_job(
            job_id,
            status=status,
            report=report,
            run_id=f"run-{role}",
            summary={"conversations": 4 + i, "success_ratio": 0.75} if status == "ok" else None,
            error="stress run crashed: target refused connections" if status == "failed" else None,
        )
        jobs[role] = job_id
        counts[(job, status)] = counts.get((job, status), 0) + 1
    jobs["running"] = store.start_job("collect", started_at=iso(now - timedelta(seconds=5)))

    store.save_alerts(alerts_firing(now))
    store.add_delivery(
        channel="email", status="firing", group_key="g1", alerts=1, ok=True, attempts=1, error=None
    )
    store.add_delivery(
        channel="slack", status="firing", group_key="g1", alerts=1, ok=True, attempts=1, error=None
    )
    store.add_delivery(
        channel="slack", status="firing", group_key="g2", alerts=2, ok=False, attempts=3, error="HTTP 503"
    )
    return Seeded(url, runs, store, iso(newest), jobs, counts)
