"""The daily report: every job and run of the last 24 hours, overall health, consolidated advice.

Written by the daily job as `daily_report_YYYYMMDD.json` (named after the day it is written; a
second report the same day is `daily_report_YYYYMMDD-2.json`, and so on) and an HTML page beside
it, both built from the results store alone.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from convoload.model import distribution
from convoload.monitor.jobs import JobSummary, RunJobSummary, read_summary
from convoload.monitor.store import JobRow, MonitorStore
from convoload.report.grading import health
from convoload.store.journal import write_json

LEVELS = ("healthy", "warning", "critical")
TRENDS = {
    "success_ratio": "convoload_success_ratio",
    "error_ratio": "convoload_error_ratio",
    "response_time_mean_s": "convoload_response_time_mean_seconds",
    "response_time_p95_s": "convoload_response_time_p95_seconds",
    "concurrent_users": "convoload_concurrent_users",
}
NO_ACTION = "No action needed"  # how a run's recommendations begin when it found nothing to fix


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _worst(levels: list[str]) -> str:
    return max(levels, key=LEVELS.index) if levels else "healthy"


def build_daily_report(
    store: MonitorStore,
    *,
    now: datetime,
    hours: float = 24,
    status: str = "healthy",
    components: dict[str, bool] | None = None,
    comprehensive: Mapping[str, JobSummary | Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The report of the `hours` before `now`; `comprehensive`: the daily job's parts (pipeline,
    stress), when it ran them (their summaries, or the JSON of them)."""
    parts = {
        name: part if isinstance(part, JobSummary) else read_summary(name, part)
        for name, part in (comprehensive or {}).items()
    }
    since, until = _iso(now - timedelta(hours=hours)), _iso(now)
    jobs = [j for j in store.jobs(limit=100_000, since=since) if j.started_at <= until]
    by_job: dict[str, Counter[str]] = defaultdict(Counter)
    for job in jobs:
        by_job[job.job][job.status] += 1
    runs = [
        _run(j) for j in sorted(jobs, key=lambda j: j.started_at) if j.job in ("stress", "pipeline", "daily")
    ]
    trends = {}
    for key, name in TRENDS.items():
        values = [s.value for s in store.series(name, since=since) if s.at is not None and s.at <= until]
        d = distribution(values)
        trends[key] = {k: d.get(k) for k in ("count", "min", "mean", "max")} | {
            "last": values[-1] if values else None
        }
    availability = {}
    for sample in store.series("convoload_component_up", since=since):
        availability.setdefault(sample.labels.get("component", "?"), []).append(sample.value)
    uptime = {name: round(sum(v) / len(v), 4) for name, v in sorted(availability.items())}
    deliveries = [d for d in store.deliveries(limit=100_000) if since <= d.at <= until]
    advice: Counter[str] = Counter()
    quiet = 0  # runs that found nothing to fix
    for summary in [*(job.summary for job in jobs), *parts.values()]:
        if summary is None:
            continue
        for lines in summary.advice():
            fixes = [line for line in lines if not line.startswith(NO_ACTION)]
            advice.update(fixes)
            quiet += not fixes
    levels = [status, *(r["health"] for r in runs if r["health"] in LEVELS)]
    success, p95, errors = trends["success_ratio"], trends["response_time_p95_s"], trends["error_ratio"]
    if success["count"]:
        levels.append(health(success["mean"] or 0.0, p95["max"] or 0.0, errors["mean"] or 0.0))
    if any(up < 1.0 for up in uptime.values()):
        levels.append("warning" if all(up >= 0.9 for up in uptime.values()) else "critical")
    failed_jobs = [
        {"job": j.job, "started_at": j.started_at, "error": j.error} for j in jobs if j.status == "failed"
    ]
    if failed_jobs:
        levels.append("warning")
    overall = _worst(levels)
    recommendations = _day_advice(availability, failed_jobs, status) + [
        {"text": text, "times": n} for text, n in advice.most_common()
    ]
    if not recommendations and overall == "healthy":
        recommendations = [{"text": f"{NO_ACTION}: every check passed.", "times": quiet}]
    elif not recommendations:  # e.g. a low success rate in the probes, which give no advice of their own
        recommendations = [{"text": f"Overall health is {overall}: read the metrics and runs.", "times": 0}]
    return {
        "date": now.strftime("%Y-%m-%d"),
        "generated_at": _iso(now),
        "period": {"from": since, "to": until, "hours": hours},
        "overall": {
            "health": overall,
            "status_now": status,
            "components_now": components or {},
        },
        "jobs": {name: dict(counts) for name, counts in sorted(by_job.items())},
        "runs": runs,
        "metrics": trends,
        "availability": uptime,
        "alerts": {
            "notifications": len(deliveries),
            "firing": sum(1 for d in deliveries if d.status == "firing"),
            "resolved": sum(1 for d in deliveries if d.status == "resolved"),
            "failed_deliveries": sum(1 for d in deliveries if not d.ok),
            "active": [
                {"name": a.name, "severity": a.severity, "state": a.state, "since": a.active_since}
                for a in store.alerts()
            ],
        },
        "comprehensive": {name: part.to_json() for name, part in parts.items() if part is not None},
        "failed_jobs": failed_jobs,
        "recommendations": recommendations,
    }


def _run(job: JobRow) -> dict[str, Any]:
    """A stress, pipeline or daily job in the report: its verdict, when it gave one."""
    verdict = job.summary if isinstance(job.summary, RunJobSummary) else None
    return {
        "job": job.job,
        "started_at": job.started_at,
        "status": job.status,
        "run_id": job.run_id,
        "grade": verdict.grade if verdict else None,
        "health": verdict.health if verdict else None,
        "success_rate": verdict.success_rate if verdict else None,
        "p95_ms": verdict.p95_ms if verdict else None,
        "report": job.report,
        "error": job.error,
    }


def _day_advice(
    availability: dict[str, list[float]], failed_jobs: list[dict[str, Any]], status: str
) -> list[dict[str, Any]]:
    """What the day itself calls for beyond the runs' advice: downtime, failed jobs, alerts firing now.

    `times` counts the failed health checks, the failed jobs, the alert status (once).
    """
    out = []
    for name, values in sorted(availability.items()):
        down = sum(1 for v in values if v < 1.0)
        if down:
            text = f"{name} was down in {down} of {len(values)} health checks: see api.log."
            out.append({"text": text, "times": down})
    if failed_jobs:
        out.append(
            {"text": "Monitor jobs failed: see failed_jobs and errors.log.", "times": len(failed_jobs)}
        )
    if status != "healthy":
        out.append({"text": f"Alerts are {status} now: see the active alerts.", "times": 1})
    return out


def write_daily_report(store: MonitorStore, folder: Path, *, now: datetime, **kwargs: Any) -> Path:
    """Write `daily_report_YYYYMMDD[-N].json` and `.html` into `folder`; returns the JSON's path."""
    document = build_daily_report(store, now=now, **kwargs)
    folder.mkdir(parents=True, exist_ok=True)
    path = _claim(folder, f"daily_report_{now.strftime('%Y%m%d')}")
    write_json(path, document)
    env = Environment(loader=PackageLoader("convoload.monitor", "templates"), autoescape=select_autoescape())
    html = env.get_template("daily_report.html.j2").render(report=document)
    path.with_suffix(".html").write_text(html, encoding="utf-8")
    return path


def _claim(folder: Path, stem: str) -> Path:
    """The first free `stem.json`, `stem-2.json`, ...: created at once, so no report overwrites another."""
    for n in count(1):
        path = folder / f"{stem}{'' if n == 1 else f'-{n}'}.json"
        try:
            path.open("x").close()
        except FileExistsError:
            continue
        return path
    raise AssertionError("unreachable")
