"""The monitor's tables in the results store: metric time series, jobs, alerts, deliveries, state.

The monitor process writes; the dashboard process (and `/metrics`) only read. The database is
the one place both share, so an alert or a sample is visible to the dashboard the moment its
transaction commits, and a restarted monitor picks up where it left off.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from convoload.model import utc_now
from convoload.monitor.jobs import Summary, read_summary, summary_json
from convoload.store.results.engine import StoreOrigin, open_engine, unreachable
from convoload.store.results.migrations import LATEST, SchemaVersionError, current_version, migrate
from convoload.store.results.schema import (
    alerts,
    deliveries,
    metric_latest,
    metric_samples,
    monitor_jobs,
    monitor_state,
)


def series_key(name: str, labels: dict[str, str]) -> str:
    """One stable key per time series: Prometheus' own notation, labels sorted."""
    if not labels:
        return name
    inner = ",".join(f"{k}={json.dumps(str(v))}" for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}"


@dataclass(frozen=True)
class Sample:
    name: str
    value: float
    labels: dict[str, str] = field(default_factory=dict)
    at: str | None = None  # ISO-8601 UTC; set when read back

    @property
    def series(self) -> str:
        return series_key(self.name, self.labels)


@dataclass(frozen=True)
class JobRow:
    id: int
    job: str
    started_at: str
    finished_at: str | None
    status: str  # running | ok | failed
    run_id: str | None
    report: str | None
    summary: Summary | None  # as the job's model (monitor.jobs) reads it
    error: str | None


@dataclass(frozen=True)
class AlertRow:
    fingerprint: str
    name: str
    severity: str
    state: str  # pending | firing | resolved
    inhibited: bool
    labels: dict[str, str]
    annotations: dict[str, str]
    value: float | None
    threshold: float | None
    active_since: str | None
    fired_at: str | None
    resolved_at: str | None
    updated_at: str


@dataclass(frozen=True)
class DeliveryRow:
    at: str
    channel: str
    status: str
    group_key: str
    alerts: int
    ok: bool
    attempts: int
    error: str | None


class MonitorStore:
    """Reads and writes of the monitor's tables; each write is one committed transaction."""

    def __init__(
        self, url: str, *, create: bool = True, read_only: bool = False, origin: StoreOrigin | None = None
    ) -> None:
        """`read_only`: the dashboard's view; the schema is the monitor's to migrate (a read-only
        database user is enough), and a database it has not migrated yet is reported, not changed.
        A bad URL or a database that cannot be opened is a ConfigError naming `origin`."""
        self.engine = open_engine(url, create=create, origin=origin)
        self.url = self.engine.url.render_as_string(hide_password=True)
        self._lock = threading.Lock()
        if not read_only:
            try:
                migrate(self.engine)
            except SQLAlchemyError as exc:
                self.engine.dispose()
                raise unreachable(origin, exc) from None
            return
        with self.engine.connect() as conn:
            version = current_version(conn)
        if version < LATEST:
            self.engine.dispose()
            raise SchemaVersionError(
                f"the results database is at schema version {version}; start the monitor first"
            )

    def close(self) -> None:
        self.engine.dispose()

    # -- metrics -----------------------------------------------------------------------------------

    def add_samples(self, samples: list[Sample], at: str | None = None) -> str:
        """Append the samples to their time series and make them the latest values; returns `at`."""
        at = at or utc_now()
        if not samples:
            return at
        rows = [
            {"at": at, "name": s.name, "series": s.series, "labels": s.labels, "value": float(s.value)}
            for s in samples
        ]
        with self._lock, self.engine.begin() as conn:
            conn.execute(insert(metric_samples), rows)
            # Delete + insert is an upsert both SQLite and Postgres run the same way.
            conn.execute(delete(metric_latest).where(metric_latest.c.series.in_([r["series"] for r in rows])))
            conn.execute(
                insert(metric_latest),
                [{k: r[k] for k in ("series", "name", "labels", "value", "at")} for r in rows],
            )
        return at

    def latest(self) -> list[Sample]:
        """The newest value of every time series."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(metric_latest).order_by(metric_latest.c.series)).mappings().all()
        return [Sample(r["name"], r["value"], dict(r["labels"]), r["at"]) for r in rows]

    def series(
        self, name: str, *, since: str | None = None, labels: dict[str, str] | None = None
    ) -> list[Sample]:
        """Samples of one metric in time order (every label set, or the one given), from `since` on."""
        query = select(metric_samples).where(metric_samples.c.name == name)
        if labels is not None:
            query = query.where(metric_samples.c.series == series_key(name, labels))
        if since is not None:
            query = query.where(metric_samples.c.at >= since)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(metric_samples.c.at, metric_samples.c.id)).mappings().all()
        return [Sample(r["name"], r["value"], dict(r["labels"]), r["at"]) for r in rows]

    def prune_samples(self, before: str) -> int:
        """Forget samples older than `before` (retention); the latest values stay."""
        with self._lock, self.engine.begin() as conn:
            return conn.execute(delete(metric_samples).where(metric_samples.c.at < before)).rowcount

    # -- jobs --------------------------------------------------------------------------------------

    def start_job(self, job: str, started_at: str | None = None) -> int:
        with self._lock, self.engine.begin() as conn:
            result = conn.execute(
                insert(monitor_jobs).values(job=job, started_at=started_at or utc_now(), status="running")
            )
            return int(result.inserted_primary_key[0])

    def finish_job(
        self,
        job_id: int,
        *,
        status: str,
        run_id: str | None = None,
        report: str | None = None,
        summary: Summary | Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        if status not in ("ok", "failed"):
            raise ValueError(f"status must be ok or failed, not {status!r}")
        with self._lock, self.engine.begin() as conn:
            conn.execute(
                update(monitor_jobs)
                .where(monitor_jobs.c.id == job_id)
                .values(
                    finished_at=utc_now(),
                    status=status,
                    run_id=run_id,
                    report=report,
                    summary=summary_json(summary),
                    error=error,
                )
            )

    def abandon_running_jobs(self) -> int:
        """Mark jobs a killed monitor left 'running' as failed (called at start-up)."""
        with self._lock, self.engine.begin() as conn:
            return conn.execute(
                update(monitor_jobs)
                .where(monitor_jobs.c.status == "running")
                .values(
                    status="failed", finished_at=utc_now(), error="the monitor stopped before the job ended"
                )
            ).rowcount

    def jobs(
        self, *, limit: int = 50, job: str | None = None, since: str | None = None, until: str | None = None
    ) -> list[JobRow]:
        """Jobs, newest first."""
        query = select(monitor_jobs)
        if job is not None:
            query = query.where(monitor_jobs.c.job == job)
        if since is not None:
            query = query.where(monitor_jobs.c.started_at >= since)
        if until is not None:
            query = query.where(monitor_jobs.c.started_at < until)
        query = query.order_by(monitor_jobs.c.started_at.desc(), monitor_jobs.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [JobRow(**{**r, "summary": read_summary(r["job"], r["summary"])}) for r in rows]

    def job_counts(self) -> dict[tuple[str, str], int]:
        """(job, status) → how many, over the whole history (for `/metrics` counters)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(monitor_jobs.c.job, monitor_jobs.c.status, func.count()).group_by(
                    monitor_jobs.c.job, monitor_jobs.c.status
                )
            ).all()
        return {(job, status): count for job, status, count in rows}

    # -- alerts ------------------------------------------------------------------------------------

    def save_alerts(self, current: list[dict[str, Any]]) -> None:
        """Replace the alert table with the manager's current alerts (dicts with AlertRow's fields)."""
        now = utc_now()
        rows = [{**{k: a.get(k) for k in AlertRow.__dataclass_fields__}, "updated_at": now} for a in current]
        with self._lock, self.engine.begin() as conn:
            conn.execute(delete(alerts))
            if rows:
                conn.execute(insert(alerts), rows)

    def alerts(self, *, states: tuple[str, ...] = ("pending", "firing")) -> list[AlertRow]:
        """Current alerts, critical first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(alerts).where(alerts.c.state.in_(states))).mappings().all()
        order = {"critical": 0, "warning": 1}
        found = [AlertRow(**dict(r)) for r in rows]
        return sorted(found, key=lambda a: (order.get(a.severity, 2), a.name, a.fingerprint))

    # -- deliveries --------------------------------------------------------------------------------

    def add_delivery(
        self,
        *,
        channel: str,
        status: str,
        group_key: str,
        alerts: int,
        ok: bool,
        attempts: int,
        error: str | None,
    ) -> None:
        with self._lock, self.engine.begin() as conn:
            conn.execute(
                insert(deliveries).values(
                    at=utc_now(),
                    channel=channel,
                    status=status,
                    group_key=group_key,
                    alerts=alerts,
                    ok=ok,
                    attempts=attempts,
                    error=error,
                )
            )

    def deliveries(self, limit: int = 50) -> list[DeliveryRow]:
        with self.engine.connect() as conn:
            rows = (
                conn.execute(select(deliveries).order_by(deliveries.c.id.desc()).limit(limit))
                .mappings()
                .all()
            )
        return [DeliveryRow(**{k: r[k] for k in DeliveryRow.__dataclass_fields__}) for r in rows]

    def delivery_counts(self) -> dict[tuple[str, bool], int]:
        """(channel, ok) → deliveries, over the whole history."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(deliveries.c.channel, deliveries.c.ok, func.count()).group_by(
                    deliveries.c.channel, deliveries.c.ok
                )
            ).all()
        return {(channel, bool(ok)): count for channel, ok, count in rows}

    # -- state -------------------------------------------------------------------------------------

    def get_state(self, key: str) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(select(monitor_state.c.value).where(monitor_state.c.key == key)).scalar()

    def set_state(self, key: str, value: Any) -> None:
        with self._lock, self.engine.begin() as conn:
            conn.execute(delete(monitor_state).where(monitor_state.c.key == key))
            conn.execute(insert(monitor_state).values(key=key, value=value, updated_at=utc_now()))
