"""convoload inside the `locust` command: options, setup, and the run summary at the end.

Importing this module registers listeners on Locust's global events; the
locustfile does nothing else. Works headless and with the web UI. In each
process that runs users (standalone or worker) it builds a RunContext, whose
webhook receiver is a gevent WSGI server in that same process.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from locust import events
from locust.runners import MasterRunner
from rich.console import Console

from convoload.config import apply_llm_flags, load_config
from convoload.errors import ConvoloadError
from convoload.load.context import RunContext
from convoload.load.locust_bridge import bridge_to_locust
from convoload.load.user import ConversationBudget, ConversationUser, LoadState

__all__ = ["ConversationUser"]


@events.init_command_line_parser.add_listener
def _add_options(parser: Any) -> None:
    group = parser.add_argument_group("convoload")
    group.add_argument(
        "--convoload-config",
        default=os.environ.get("CONVOLOAD_CONFIG"),
        help="convoload YAML config (default: the bundled demo agent). Env: CONVOLOAD_CONFIG",
    )
    group.add_argument("--persona", default=None, help="Give every virtual user this persona")
    group.add_argument("--seed", type=int, default=None, help="Seed for personas and identities")
    group.add_argument("--runs-dir", default=None, help="Where convoload writes run folders (default ./runs)")
    group.add_argument("--max-iterations", type=int, default=None, help="Turns per conversation (default 15)")
    group.add_argument(
        "--user-mode",
        choices=["scripted", "llm", "mixed"],
        default=None,
        help="Who plays the customers (default scripted)",
    )
    group.add_argument(
        "--llm", default=None, help="PROVIDER/MODEL for LLM users, e.g. gemini/gemini-2.5-flash"
    )
    group.add_argument(
        "--replay",
        action="store_true",
        default=False,
        help="Answer LLM-user calls from the record/replay cache where the conversation matches",
    )


def _stop_timeout_given() -> bool:
    return "LOCUST_STOP_TIMEOUT" in os.environ or any(
        arg in ("-s", "--stop-timeout") or arg.startswith("--stop-timeout=") for arg in sys.argv
    )


@events.init.add_listener
def _setup(environment: Any, runner: Any = None, **_kwargs: Any) -> None:
    if isinstance(runner, MasterRunner) or getattr(environment, "convoload", None) is not None:
        return
    options = environment.parsed_options
    try:
        config = load_config(getattr(options, "convoload_config", None))
        overrides = {
            k: v
            for k, v in {
                "seed": options.seed,
                "runs_dir": options.runs_dir,
                "max_iterations": options.max_iterations,
            }.items()
            if v is not None
        }
        if overrides:
            config = config.model_copy(update={"run": config.run.model_copy(update=overrides)})
        config = apply_llm_flags(config, options.user_mode, options.llm, True if options.replay else None)
        context = RunContext(config, pinned_persona=options.persona)
    except ConvoloadError as exc:
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(2)
    bridge_to_locust(context.bus, environment.events)
    environment.convoload = LoadState(context, ConversationBudget(total=None))
    if not _stop_timeout_given():
        # Locust's default (0) kills users mid-conversation at the end of the test.
        environment.stop_timeout = config.run.stop_timeout_s
    where = f" against the demo agent at {context.demo_url}" if context.demo_url else ""
    sys.stderr.write(f"convoload run {context.run_id}{where}; records in {context.run_dir}\n")


@events.test_stop.add_listener
def _write_aggregate(environment: Any, **_kwargs: Any) -> None:
    state = getattr(environment, "convoload", None)
    if state is not None:
        state.context.aggregate()


@events.quitting.add_listener
def _finish(environment: Any, **_kwargs: Any) -> None:
    state = getattr(environment, "convoload", None)
    if state is None:
        return
    from convoload.report.console import print_summary

    document = state.context.aggregate()
    state.context.close()
    console = Console(stderr=True)
    print_summary(console, document)
    console.print(f"records: {state.context.run_dir}")
