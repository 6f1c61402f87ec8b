"""``python -m convoload.monitor.dashboard``: serve the monitor's dashboard and ``/metrics``.

The token comes only from ``CONVOLOAD_DASHBOARD_TOKEN`` (argv is visible to every local user).
Binding beyond loopback without one is refused before the socket is opened.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from convoload.monitor.dashboard.settings import STORE_URL_ENV, TOKEN_ENV, DashboardSettings, is_loopback
from convoload.servers import ready_url, serve, start_server_process


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m convoload.monitor.dashboard",
        description=f"Monitor dashboard and Prometheus /metrics (token: the {TOKEN_ENV} variable).",
    )
    parser.add_argument(
        "--store-url",
        default=os.environ.get(STORE_URL_ENV),
        help=f"SQLAlchemy URL of the results store (default: the {STORE_URL_ENV} variable)",
    )
    parser.add_argument("--runs-root", required=True, type=Path, help="reports are served from under here")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8089, help="port to bind; 0 picks a free one")
    parser.add_argument("--refresh", type=float, default=15.0, help="seconds between page refreshes")
    parser.add_argument("--title", default="convoload monitor", help="page title")
    parser.add_argument(
        "--stale-after", type=float, default=300.0, help="newest sample older than this (s) = stale data"
    )
    parser.add_argument("--trend-hours", type=float, default=24.0, help="span of the trend charts")
    return parser


def settings_from_args(args: argparse.Namespace, token: str | None) -> DashboardSettings:
    return DashboardSettings(
        store_url=args.store_url,
        runs_root=args.runs_root,
        token=token,
        refresh_s=args.refresh,
        title=args.title,
        stale_after_s=args.stale_after,
        trend_hours=args.trend_hours,
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.store_url:
        parser.error(f"--store-url or {STORE_URL_ENV} is required")
    token = os.environ.get(TOKEN_ENV) or None
    if token is None and not is_loopback(args.host):
        print(
            f"refusing to serve the dashboard on {args.host} without a token: set {TOKEN_ENV} "
            "or bind to 127.0.0.1",
            file=sys.stderr,
        )
        return 2
    try:
        settings = settings_from_args(args, token)
    except ValueError as exc:
        print(f"invalid setting: {exc}", file=sys.stderr)
        return 2
    sock = start_server_process(args.host, args.port)
    if sock is None:
        return 2
    from convoload.monitor.dashboard.app import create_app  # heavy imports after the bind

    serve(create_app(settings, ready_url=ready_url(sock, args.host)), sock)
    return 0


if __name__ == "__main__":
    sys.exit(main())
