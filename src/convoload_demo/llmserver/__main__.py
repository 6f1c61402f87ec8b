"""``python -m convoload_demo.llmserver``: run the local OpenAI-compatible LLM provider.

The listening socket is bound here, before the app starts, so ``--port 0`` works and the
``READY http://HOST:PORT`` line (printed on startup) always carries the real port.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import get_args

from pydantic import ValidationError

from convoload.servers import ready_url, serve, start_server_process
from convoload_demo.llmserver.app import create_app
from convoload_demo.llmserver.script import Script
from convoload_demo.llmserver.settings import LLMServerSettings, SimFaultKind


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m convoload_demo.llmserver",
        description="Local, scriptable OpenAI-compatible chat-completions provider (offline tests).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8002, help="port to bind; 0 picks a free one")
    parser.add_argument("--api-key", default=None, help="require 'Authorization: Bearer KEY' on /v1")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each chat answer")
    parser.add_argument("--jitter", type=float, default=0.0, help="uniform +/- jitter on the latency")
    parser.add_argument("--script", type=Path, default=None, metavar="FILE.json", help="initial script")
    parser.add_argument("--seed", type=int, default=None, help="seed of the jitter and id RNG")
    parser.add_argument(
        "--sim-fault",
        default=None,
        choices=get_args(SimFaultKind),
        help="persona mode: answer with this simulator fault (tests of convoload's simulator checks)",
    )
    parser.add_argument(
        "--sim-fault-on",
        default="",
        metavar="N,M,...",
        help="which persona answers (1-based, since start or reset) get --sim-fault; default every one",
    )
    return parser


def load_script(path: Path) -> Script:
    """The script in a JSON file; ``ValueError`` naming the file when it is unreadable or invalid."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read the script: {exc}") from None
    try:
        return Script.model_validate(data)
    except ValidationError as exc:
        raise ValueError(f"{path}: invalid script: {exc}") from None


def _reply_numbers(text: str) -> tuple[int, ...]:
    try:
        numbers = tuple(int(n) for n in text.split(",") if n.strip())
    except ValueError:
        numbers = (0,)
    if any(n < 1 for n in numbers):
        raise ValueError(f"--sim-fault-on: {text!r} is not a list of answer numbers (1, 2, ...)")
    return numbers


def settings_from_args(args: argparse.Namespace, ready: str | None = None) -> LLMServerSettings:
    return LLMServerSettings(
        api_key=args.api_key,
        latency_s=args.latency,
        jitter_s=args.jitter,
        seed=args.seed,
        script=load_script(args.script) if args.script else Script(),
        ready_url=ready,
        sim_fault=args.sim_fault,
        sim_fault_on=_reply_numbers(args.sim_fault_on),
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = settings_from_args(args)
    except ValueError as exc:  # also pydantic's errors for negative --latency / --jitter
        print(exc, file=sys.stderr)
        return 2
    sock = start_server_process(args.host, args.port)
    if sock is None:
        return 2
    serve(create_app(settings.model_copy(update={"ready_url": ready_url(sock, args.host)})), sock)
    return 0


if __name__ == "__main__":
    sys.exit(main())
