"""``python -m convoload_demo.realestate.assistant``: run the real-estate chat API.

The socket is bound here, before the app starts, so ``--port 0`` works and the
``READY http://HOST:PORT`` line always carries the real port.
"""

from __future__ import annotations

import argparse
import sys

from convoload.servers import ready_url, serve, start_server_process
from convoload_demo.realestate.assistant.settings import AssistantSettings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m convoload_demo.realestate.assistant",
        description="Real-estate multi-agent chat assistant (POST /api/chat) over the property catalog.",
    )
    parser.add_argument("--catalog-url", required=True, help="base URL of the property catalog API")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8003, help="port to bind; 0 picks a free one")
    parser.add_argument("--brain", choices=("rules", "llm"), default="rules", help="default: rules (offline)")
    parser.add_argument(
        "--llm", nargs="+", default=[], metavar="PROVIDER/MODEL", help="LLM providers in fallback order"
    )
    parser.add_argument("--local-llm-url", default=None, help="base URL (.../v1) of the 'local' provider")
    parser.add_argument("--max-steps", type=int, default=8, help="brain steps per customer turn")
    parser.add_argument("--catalog-timeout", type=float, default=10.0, help="catalog request timeout (s)")
    parser.add_argument(
        "--max-concurrent-turns",
        type=int,
        default=None,
        metavar="N",
        help="turns served at once, the rest queue (default: $CONVOLOAD_DEMO_MAX_CONCURRENT_TURNS)",
    )
    return parser


def settings_from_args(args: argparse.Namespace, ready: str | None = None) -> AssistantSettings:
    return AssistantSettings(
        catalog_url=args.catalog_url,
        brain=args.brain,
        llm=tuple(args.llm),
        local_llm_url=args.local_llm_url,
        max_steps_per_turn=args.max_steps,
        catalog_timeout_s=args.catalog_timeout,
        ready_url=ready,
        **(
            {"max_concurrent_turns": args.max_concurrent_turns}
            if args.max_concurrent_turns is not None
            else {}
        ),
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from convoload_demo.realestate.assistant.server import create_app  # FastAPI only when serving

    sock = start_server_process(args.host, args.port)
    if sock is None:
        return 2
    try:
        app = create_app(settings_from_args(args, ready=ready_url(sock, args.host)))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    serve(app, sock)
    return 0


if __name__ == "__main__":
    sys.exit(main())
