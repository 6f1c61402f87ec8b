"""`convoload monitor`: the 24/7 service (or one job of it), its jobs and alerts printed as they happen."""

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from convoload.cli.common import console, err_console
from convoload.errors import ConfigError

if TYPE_CHECKING:
    from convoload.monitor.jobs import Summary


def _print_job(name: str, state: str, summary: "Summary | None") -> None:
    from datetime import datetime

    from convoload.monitor.jobs import JobFailure

    line = f"{datetime.now():%H:%M:%S} {name:<9} {state}"
    if isinstance(summary, JobFailure):
        line += f"  {summary.error}"
    elif state == "ok" and summary is not None:
        parts = summary.highlights()
        line += "  " + ", ".join(parts) if parts else ""
    console.print(line, highlight=False, markup=False)


def _alert_printer(out: Console) -> Any:
    """Prints each alert of a notification as it fires or resolves, whatever channels are configured."""
    from datetime import datetime

    from convoload.monitor.alerts import Notification
    from convoload.monitor.alerts.render import notice_line

    def print_alerts(notification: Notification) -> None:
        for alert in notification.alerts:
            line = f"{datetime.now():%H:%M:%S} {'alert':<9} {notice_line(alert, repeat=notification.repeat)}"
            out.print(line, highlight=False, markup=False, soft_wrap=True)

    return print_alerts


def monitor(
    config_path: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-f",
            help="Monitor YAML (schedule, thresholds, channels, dashboard; see docs/guides/monitoring.md). "
            "Default: watch the bundled real-estate system, which the monitor starts.",
        ),
    ] = None,
    once: Annotated[
        str | None,
        typer.Option(
            "--once",
            help="Run this one job now and exit instead of serving: collect, health, stress, pipeline "
            "or daily (the comprehensive test and the daily report).",
        ),
    ] = None,
) -> None:
    """24/7 monitoring: scheduled synthetic conversations, alerts, Prometheus metrics, dashboard.

    Jobs (defaults): metrics collection every minute (a few synthetic conversations, then success
    rate, response times, errors, transitions, fallbacks, tokens and cost over the metrics window);
    health checks every 5 minutes (agent, catalog API, LLM providers); a mini stress test every 30
    minutes; the pipeline every 2 hours; and at 02:00 the comprehensive test, which writes
    daily_report_YYYYMMDD.json and .html (-2, -3, ... for more the same day). Alert rules fire after
    their `for` duration, are printed here as they fire and resolve, and notify the log
    (logs/alerts.log), e-mail, Slack or a webhook. The dashboard (with /metrics for Prometheus) is served on
    127.0.0.1:8089 by default. Runs until SIGTERM or Ctrl-C (exit 143 / 130): jobs under way end
    then, their runs recorded as interrupted; finished results are never lost.
    """
    from convoload.monitor.config import load_monitor_config
    from convoload.monitor.service import JOBS, Monitor
    from convoload.signals import GracefulStop

    if once is not None and once not in JOBS:
        raise ConfigError("--once", "", f"{once!r} is not one of {', '.join(JOBS)}")
    config = load_monitor_config(config_path, on_demand=once is not None)
    # Alerts are printed as they happen; with --once on stderr, so that stdout stays the job's JSON.
    service = Monitor(
        config,
        on_job=None if once else _print_job,
        on_alert=_alert_printer(err_console if once else console),
    )
    if once is not None:
        service.start()
        with GracefulStop(service.stop_request) as stopping:  # a signal ends the job, recorded; 130/143
            try:
                summary = service.run_job(once)
            finally:
                service.shutdown()
        if stopping.exit_code is not None:
            if summary is not None:
                console.print_json(json.dumps(summary.to_json(), default=str))
            raise typer.Exit(stopping.exit_code)
        if summary is None:
            err_console.print(f"job {once} failed (see {config.logs.dir}/errors.log)")
            raise typer.Exit(1)
        console.print_json(json.dumps(summary.to_json(), default=str))
        return
    console.print("[bold]convoload monitor[/] starting…")
    service.start()
    if service.watched and service.watched.bundled:
        started = service.watched.bundled
        parts = ", ".join(f"{k} {v}" for k, v in started.components.items())
        console.print(f"watching the bundled system {started.name}: {parts or started.url}")
    console.print(f"results store: {service.store.url}")
    console.print(f"logs: {Path(config.logs.dir).resolve()}")
    if service.dashboard_url:
        console.print(f"dashboard: {service.dashboard_url}  (Prometheus: {service.dashboard_url}/metrics)")
    for job, when in sorted(service.next_runs().items(), key=lambda kv: str(kv[1])):
        console.print(f"  {job:<9} next {when:%Y-%m-%d %H:%M:%S %Z}" if when else f"  {job:<9} paused")
    console.print("Ctrl-C or SIGTERM stops it (a second one at once).")
    service.serve()
    console.print("monitor stopped; every finished result is in the store.")
    if service.exit_code is not None:
        raise typer.Exit(service.exit_code)
