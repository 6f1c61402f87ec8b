"""``python -m convoload_demo.tickets``: run the demo ticket server.

The listening socket is bound here, before the app starts, so ``--port 0`` works and the
``READY http://HOST:PORT`` line (printed on startup) always carries the real port.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

from pydantic import ValidationError

from convoload.servers import ready_url, serve, start_server_process
from convoload_demo.tickets.catalog import DEFAULT_CLOSED_DATES
from convoload_demo.tickets.server import create_app
from convoload_demo.tickets.settings import TicketServerSettings
from convoload_demo.widget import parse_signature


def _backoff(value: str) -> tuple[float, ...]:
    return tuple(float(part) for part in value.split(",") if part.strip())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m convoload_demo.tickets",
        description="Offline demo ticket-booking assistant (widget webhook API + /v1/chat).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8001, help="port to bind; 0 picks a free one")
    parser.add_argument("--reply-delay", type=float, default=0.2, help="seconds before replying")
    parser.add_argument("--jitter", type=float, default=0.1, help="uniform +/- jitter on the delay")
    parser.add_argument("--split-messages", action="store_true", help="one callback per message")
    parser.add_argument("--seed", type=int, default=None, help="seed of the jitter RNG")
    parser.add_argument("--max-body-bytes", type=int, default=64_000, help="larger bodies get 413")
    parser.add_argument("--season-year", type=int, default=2026, help="year of dates given without one")
    parser.add_argument(
        "--closed-date",
        action="append",
        type=date.fromisoformat,
        default=[],
        metavar="YYYY-MM-DD",
        help="extra closed date (repeatable)",
    )
    parser.add_argument(
        "--no-default-closed-dates", action="store_true", help="only the --closed-date dates are closed"
    )
    parser.add_argument(
        "--retry-backoff",
        type=_backoff,
        default=(0.2, 0.5, 1.0),
        metavar="S,S,S",
        help="waits between callback retries (default 0.2,0.5,1)",
    )
    parser.add_argument(
        "--max-concurrent-turns",
        type=int,
        default=None,
        metavar="N",
        help="turns served at once, the rest queue (default: $CONVOLOAD_DEMO_MAX_CONCURRENT_TURNS)",
    )
    parser.add_argument(
        "--sign",
        default=None,
        metavar="SPEC",
        help="sign callbacks: JSON or key=value,... with target.receiver.signature's fields "
        "(secret_env required), e.g. secret_env=AGENT_SECRET or "
        "secret_env=S,header=X-Slack-Signature,prefix=v0=,timestamp_header=X-Slack-Request-Timestamp",
    )
    return parser


def settings_from_args(args: argparse.Namespace, ready_url: str | None = None) -> TicketServerSettings:
    closed: set[date] | None = None
    if args.closed_date or args.no_default_closed_dates:
        closed = set(args.closed_date)
        if not args.no_default_closed_dates:
            closed |= set(DEFAULT_CLOSED_DATES)
    return TicketServerSettings(
        reply_delay_s=args.reply_delay,
        jitter_s=args.jitter,
        split_messages=args.split_messages,
        closed_dates=frozenset(closed) if closed is not None else None,
        seed=args.seed,
        max_body_bytes=args.max_body_bytes,
        season_year=args.season_year,
        retry_backoff_s=args.retry_backoff,
        ready_url=ready_url,
        signature=parse_signature(args.sign) if args.sign else None,
        **(
            {"max_concurrent_turns": args.max_concurrent_turns}
            if args.max_concurrent_turns is not None
            else {}
        ),
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings_from_args(args)
    except (ValueError, ValidationError) as exc:  # a bad --sign, its secret not set
        print(f"invalid settings: {exc}", file=sys.stderr)
        return 2
    sock = start_server_process(args.host, args.port)
    if sock is None:
        return 2
    serve(create_app(settings_from_args(args, ready_url=ready_url(sock, args.host))), sock)
    return 0


if __name__ == "__main__":
    sys.exit(main())
