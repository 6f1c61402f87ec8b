"""`/metrics`: the store's latest values in Prometheus text format, typed by the metric catalog.

A custom collector reads the store at scrape time, so the numbers are whatever the monitor last
committed; nothing is cached in this process and a restarted dashboard serves the same values.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from convoload.monitor.catalog import CATALOG, MetricInfo
from convoload.monitor.dashboard.status import newest_sample_at, parse_ts
from convoload.monitor.store import MonitorStore, Sample

# Metrics the dashboard derives from the store's tables (not samples): the Grafana dashboard uses them.
EXTRA_METRICS: dict[str, MetricInfo] = {
    m.name: m
    for m in [
        MetricInfo(
            "convoload_alerts", "gauge", "Current alerts by severity and state", ("severity", "state")
        ),
        MetricInfo(
            "convoload_alert_active",
            "gauge",
            "1 for every pending or firing alert",
            ("alertname", "severity", "state", "inhibited", "fingerprint"),
        ),
        MetricInfo(
            "convoload_monitor_jobs_total", "counter", "Finished monitor jobs by outcome", ("job", "status")
        ),
        MetricInfo("convoload_monitor_jobs_running", "gauge", "Monitor jobs running now", ("job",)),
        MetricInfo(
            "convoload_notifications_total",
            "counter",
            "Alert notification deliveries by channel and result",
            ("channel", "result"),
        ),
        MetricInfo(
            "convoload_last_sample_timestamp_seconds",
            "gauge",
            "Unix time of the newest metric sample the monitor wrote",
        ),
    ]
}
# Always exported, even at zero, so a panel or rule never sees the series vanish.
ALERT_STATES = [(sev, state) for sev in ("critical", "warning") for state in ("pending", "firing")]


def _family(info: MetricInfo, labels: list[str]) -> GaugeMetricFamily | CounterMetricFamily:
    if info.kind == "counter":
        return CounterMetricFamily(info.name, info.help, labels=labels)
    return GaugeMetricFamily(info.name, info.help, labels=labels)


class StoreCollector(Collector):
    """Reads the monitor's tables on every scrape."""

    def __init__(self, store: MonitorStore) -> None:
        self.store = store

    def describe(self) -> list[Metric]:
        return []  # no scrape at registration: the store may still be empty

    def collect(self) -> Iterator[Metric]:
        latest = self.store.latest()
        yield from self._samples(latest)
        yield from self._alerts()
        yield from self._jobs()
        yield self._notifications()
        newest = newest_sample_at(latest)
        if newest is not None:
            info = EXTRA_METRICS["convoload_last_sample_timestamp_seconds"]
            yield GaugeMetricFamily(info.name, info.help, value=parse_ts(newest).timestamp())

    def _samples(self, latest: list[Sample]) -> Iterator[Metric]:
        by_name: dict[str, list[Sample]] = defaultdict(list)
        for sample in latest:
            if sample.name in CATALOG:  # an unknown name has no type or help to expose it with
                by_name[sample.name].append(sample)
        for name in sorted(by_name):
            info = CATALOG[name]
            # The catalog's labels first; a label the monitor added beyond them is kept, not dropped.
            extra = sorted({k for s in by_name[name] for k in s.labels} - set(info.labels))
            labels = [*info.labels, *extra]
            family = _family(info, labels)
            for sample in by_name[name]:
                family.add_metric([sample.labels.get(k, "") for k in labels], sample.value)
            yield family

    def _alerts(self) -> Iterator[Metric]:
        alerts = self.store.alerts()
        counts: dict[tuple[str, str], int] = dict.fromkeys(ALERT_STATES, 0)
        info = EXTRA_METRICS["convoload_alert_active"]
        active = GaugeMetricFamily(info.name, info.help, labels=list(info.labels))
        for a in alerts:
            counts[(a.severity, a.state)] = counts.get((a.severity, a.state), 0) + 1
            active.add_metric([a.name, a.severity, a.state, str(a.inhibited).lower(), a.fingerprint], 1)
        info = EXTRA_METRICS["convoload_alerts"]
        by_state = GaugeMetricFamily(info.name, info.help, labels=list(info.labels))
        for (severity, state), count in sorted(counts.items()):
            by_state.add_metric([severity, state], count)
        yield by_state
        yield active

    def _jobs(self) -> Iterator[Metric]:
        info = EXTRA_METRICS["convoload_monitor_jobs_total"]
        finished = CounterMetricFamily(info.name, info.help, labels=list(info.labels))
        info = EXTRA_METRICS["convoload_monitor_jobs_running"]
        running = GaugeMetricFamily(info.name, info.help, labels=list(info.labels))
        for (job, status), count in sorted(self.store.job_counts().items()):
            # A running job later moves to ok/failed: counting it would make the counter go down.
            if status == "running":
                running.add_metric([job], count)
            else:
                finished.add_metric([job, status], count)
        yield finished
        yield running

    def _notifications(self) -> Metric:
        info = EXTRA_METRICS["convoload_notifications_total"]
        family = CounterMetricFamily(info.name, info.help, labels=list(info.labels))
        for (channel, ok), count in sorted(self.store.delivery_counts().items()):
            family.add_metric([channel, "ok" if ok else "failed"], count)
        return family


def render_metrics(store: MonitorStore) -> bytes:
    """One scrape: a fresh registry per call, so nothing from the global default registry leaks in."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store))
    return generate_latest(registry)
