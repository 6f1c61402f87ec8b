"""`convoload serve-demo` and `convoload serve-faulty`: the pack's commands (entry-point group
`convoload.commands`), each serving one of its agents in the foreground as a child process."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from convoload.errors import ConfigError, pydantic_error_to_config_error

SignOpt = Annotated[
    str | None,
    typer.Option(
        "--sign",
        help="Sign each callback as target.receiver.signature expects: its fields as JSON or "
        "key=value,... with secret_env (the variable holding the secret) required, e.g. "
        "secret_env=AGENT_SECRET (X-Hub-Signature-256: sha256=...).",
    ),
]


def _check_port(port: int) -> None:
    if not 0 <= port <= 65535:
        raise ConfigError("--port", "", f"{port} is not a port (0-65535; 0 picks a free one)")


def _check_spec(flag: str, parse: Callable[[str], Any], spec: str) -> None:
    """A spec flag (--fault, --sign), parsed now: one line naming the flag, exit 2."""
    try:
        parse(spec)
    except ValidationError as exc:
        raise pydantic_error_to_config_error(flag, exc) from None
    except ValueError as exc:
        raise ConfigError(flag, "", str(exc)) from None


def _sign_args(sign: str | None) -> list[str]:
    """`--sign`, checked now: a bad spec or an unset secret is a one-line error."""
    if sign is None:
        return []
    from convoload_demo.widget import parse_signature

    _check_spec("--sign", parse_signature, sign)
    return ["--sign", sign]


MaxTurnsOpt = Annotated[
    int | None,
    typer.Option(
        "--max-concurrent-turns",
        min=1,
        help="Turns served at once; the rest wait in a queue, first come first served (a known "
        "capacity for `convoload capacity`). Default: $CONVOLOAD_DEMO_MAX_CONCURRENT_TURNS, else no limit.",
    ),
]


def _limit_args(max_concurrent_turns: int | None) -> list[str]:
    return [] if max_concurrent_turns is None else ["--max-concurrent-turns", str(max_concurrent_turns)]


def serve_faulty(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 = any free port).")] = 8003,
    fault: Annotated[
        list[str] | None,
        typer.Option(
            "--fault",
            help="A fault, as JSON or kind,key=value,... (repeatable). Kinds: status, stall, drop, "
            "malformed, empty, oversized, split (parts=N: the reply cut inside its link); webhook only: "
            "no_callback, duplicate, late, forged. Selectors: "
            "every=N (conversation), turn=K, rate=0.2, times=N, api=chat|webhook. "
            "E.g. status,every=3,turn=2,status=503",
        ),
    ] = None,
    goal_turn: Annotated[int, typer.Option(help="Turn from which replies carry the payment link.")] = 3,
    reply_delay: Annotated[float, typer.Option(help="Seconds before each reply.")] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed of the rate selectors.")] = 0,
    max_concurrent_turns: MaxTurnsOpt = None,
    sign: SignOpt = None,
) -> None:
    """Serve a target that breaks on purpose, to see how your config and reports handle faults.

    Endpoints: POST /v1/chat {session_id, message} (synchronous), POST /v1/webhooks/widget (the widget
    preset; the reply comes as a callback), POST /admin/faults (replace the fault plan), GET /admin/stats
    (what was injected, per session and turn), GET /health. See src/convoload_demo/faulty/__init__.py.
    Runs until Ctrl-C or SIGTERM (exit 130 / 143), which is passed on to the server process and waited for.
    """
    _check_port(port)  # before the server process starts
    from convoload.servers import serve_in_foreground
    from convoload_demo.faulty.plan import parse_fault

    for spec in fault or []:
        _check_spec("--fault", parse_fault, spec)
    args = [sys.executable, "-m", "convoload_demo.faulty", "--host", host, "--port", str(port)]
    args += ["--goal-turn", str(goal_turn), "--reply-delay", str(reply_delay), "--seed", str(seed)]
    for spec in fault or []:
        args += ["--fault", spec]
    args += _limit_args(max_concurrent_turns)
    args += _sign_args(sign)
    raise typer.Exit(serve_in_foreground(args))  # SIGTERM/SIGINT: passed on and waited for; 143/130


def serve_demo(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 = any free port).")] = 8001,
    reply_delay: Annotated[float, typer.Option(help="Reply delay in seconds.")] = 0.3,
    jitter: Annotated[float, typer.Option(help="Random extra delay, up to this many seconds.")] = 0.2,
    split_messages: Annotated[bool, typer.Option(help="Send each reply bubble as its own callback.")] = False,
    max_concurrent_turns: MaxTurnsOpt = None,
    sign: SignOpt = None,
) -> None:
    """Serve the demo ticket-booking agent in the foreground, until Ctrl-C or SIGTERM (exit 130 / 143).

    The signal is passed on to the server process, which is waited for: none is left listening.

    Endpoints: POST /v1/webhooks/widget (webhook API), POST /v1/chat (synchronous), GET /health.
    """
    _check_port(port)  # before the server process starts
    from convoload.servers import serve_in_foreground

    args = [
        sys.executable,
        "-m",
        "convoload_demo.tickets",
        "--host",
        host,
        "--port",
        str(port),
        "--reply-delay",
        str(reply_delay),
        "--jitter",
        str(jitter),
    ]
    if split_messages:
        args.append("--split-messages")
    args += _limit_args(max_concurrent_turns)
    args += _sign_args(sign)
    raise typer.Exit(serve_in_foreground(args))  # SIGTERM/SIGINT: passed on and waited for; 143/130
