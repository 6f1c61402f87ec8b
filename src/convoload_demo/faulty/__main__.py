"""``python -m convoload_demo.faulty``: run the faulty target.

The listening socket is bound here, before the app starts, so ``--port 0`` works and the
``READY http://HOST:PORT`` line (printed on startup) always carries the real port.
"""

from __future__ import annotations

import argparse
import sys

from pydantic import ValidationError

from convoload.servers import ready_url, serve, start_server_process
from convoload_demo.faulty.plan import parse_fault
from convoload_demo.faulty.settings import FaultyServerSettings
from convoload_demo.widget import parse_signature


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m convoload_demo.faulty",
        description="A target that breaks on purpose (chat API + widget webhook API), for fault tests.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8003, help="port to bind; 0 picks a free one")
    parser.add_argument("--goal-turn", type=int, default=3, help="turn from which replies carry the link")
    parser.add_argument("--reply-delay", type=float, default=0.0, help="seconds before each reply")
    parser.add_argument("--seed", type=int, default=0, help="seed of rate selectors")
    parser.add_argument("--callback-timeout", type=float, default=5.0, help="timeout of each callback")
    parser.add_argument(
        "--max-concurrent-turns",
        type=int,
        default=None,
        metavar="N",
        help="turns served at once, the rest queue (default: $CONVOLOAD_DEMO_MAX_CONCURRENT_TURNS)",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="a fault, as JSON or kind,key=value,... e.g. status,every=3,turn=2,status=503 (repeatable)",
    )
    parser.add_argument(
        "--sign",
        default=None,
        metavar="SPEC",
        help="sign callbacks: JSON or key=value,... with target.receiver.signature's fields "
        "(secret_env required), e.g. secret_env=AGENT_SECRET",
    )
    return parser


def settings_from_args(args: argparse.Namespace, ready: str | None = None) -> FaultyServerSettings:
    return FaultyServerSettings(
        goal_turn=args.goal_turn,
        reply_delay_s=args.reply_delay,
        seed=args.seed,
        faults=tuple(parse_fault(spec) for spec in args.fault),
        callback_timeout_s=args.callback_timeout,
        ready_url=ready,
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
        settings = settings_from_args(args)
    except (ValueError, ValidationError) as exc:  # a bad --fault or --sign, a negative delay
        print(f"invalid settings: {exc}", file=sys.stderr)
        return 2
    sock = start_server_process(args.host, args.port)
    if sock is None:
        return 2
    from convoload_demo.faulty.server import create_app  # FastAPI only once the flags are valid

    serve(create_app(settings.model_copy(update={"ready_url": ready_url(sock, args.host)})), sock)
    return 0


if __name__ == "__main__":
    sys.exit(main())
