"""``python -m convoload_demo.realestate.catalog``: run the property catalog API.

The socket is bound first (so ``--port 0`` works), then the database is created and seeded, and the
``READY http://HOST:PORT`` line is printed once the app is serving.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
from pathlib import Path

from convoload.servers import ready_url, serve, start_server_process
from convoload_demo.realestate.catalog.settings import CatalogSettings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m convoload_demo.realestate.catalog",
        description="Demo Brazilian property catalog API (search, details, visits), seeded with fake data.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to bind; 0 picks a free one")
    parser.add_argument(
        "--listings", type=int, default=10_000, help="listings to generate if the DB is empty"
    )
    parser.add_argument("--seed", type=int, default=42, help="seed of the catalog generator")
    parser.add_argument(
        "--database-url",
        default=None,
        help="SQLAlchemy URL (default: a temporary SQLite file, deleted on exit)",
    )
    parser.add_argument(
        "--release-visits-after",
        type=float,
        default=None,
        metavar="SECONDS",
        help="sandbox: a booked visit gives its slot back this many seconds later (default: never)",
    )
    return parser


def settings_from_args(args: argparse.Namespace, ready: str | None = None) -> CatalogSettings:
    return CatalogSettings(
        listings=args.listings,
        seed=args.seed,
        database_url=args.database_url,
        release_visits_after_s=args.release_visits_after,
        ready_url=ready,
    )


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.listings < 0:
        print("--listings must be >= 0", file=sys.stderr)
        return 2
    if args.release_visits_after is not None and args.release_visits_after <= 0:
        print("--release-visits-after must be > 0", file=sys.stderr)
        return 2
    sock = start_server_process(args.host, args.port)
    if sock is None:
        return 2
    from convoload_demo.realestate.catalog.server import create_app  # heavy imports after the bind

    # uvicorn re-raises the SIGTERM it shut down on; turning it into SystemExit lets the cleanup run.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    with tempfile.TemporaryDirectory(prefix="convoload-catalog-") as tmp:
        if args.database_url is None:  # a throwaway SQLite file, removed when the server stops
            args.database_url = f"sqlite:///{Path(tmp) / 'catalog.db'}"
        serve(create_app(settings_from_args(args, ready_url(sock, args.host))), sock)
    return 0


if __name__ == "__main__":
    sys.exit(main())
