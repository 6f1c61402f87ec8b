"""convoload inside the `locust` command: options, setup, and the run summary at the end.

Importing this module registers listeners on Locust's global events; the
locustfile does nothing else. Works headless and with the web UI, standalone or
distributed (`--master`/`--worker`, `--processes N`):
- standalone: one RunContext (its webhook receiver is a gevent WSGI server in
  the same process) runs and records everything;
- worker: asks the master for the run (id, seed, its share of conversations),
  then builds a RunContext placed by its worker index — its own conversation
  indices, receiver port and folder — and ships its numbers to the master;
- master: runs no conversations; merges the workers' numbers into the run's
  aggregate and summary, and optionally forwards webhook callbacks to workers.
See convoload.load.cluster for the protocol and docs/distributed.md for setups.
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path
from typing import Any, NoReturn

import gevent
from gevent.event import Event
from locust import events
from locust.runners import MasterRunner, WorkerRunner
from rich.console import Console

from convoload.config import Config, apply_llm_flags, load_config
from convoload.errors import ConvoloadError
from convoload.load.cluster import ClusterError, MasterHub, WorkerLink
from convoload.load.context import RunContext, new_run_id
from convoload.load.forwarder import CallbackForwarder
from convoload.load.heap import LoadHeap
from convoload.load.locust_bridge import bridge_to_locust
from convoload.load.placement import Placement, index_block
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
    group.add_argument(
        "--conversations",
        type=int,
        default=None,
        env_var="CONVOLOAD_CONVERSATIONS",
        help="End the test after this many conversations in all (split across workers); "
        "default: until the run time or a stop. Env: CONVOLOAD_CONVERSATIONS",
    )
    group.add_argument(
        "--run-id",
        default=None,
        env_var="CONVOLOAD_RUN_ID",
        help="Id (and folder name) of the run; default: time-based and unique. Env: CONVOLOAD_RUN_ID",
    )


def _stop_timeout_given() -> bool:
    return "LOCUST_STOP_TIMEOUT" in os.environ or any(
        arg in ("-s", "--stop-timeout") or arg.startswith("--stop-timeout=") for arg in sys.argv
    )


def _config(options: Any, seed: int | None = None) -> Config:
    """The config with this command line's convoload options over it (`seed` over both)."""
    config = load_config(getattr(options, "convoload_config", None))
    overrides = {
        k: v
        for k, v in {
            "seed": seed if seed is not None else options.seed,
            "runs_dir": options.runs_dir,
            "max_iterations": options.max_iterations,
        }.items()
        if v is not None
    }
    if overrides:
        config = config.model_copy(update={"run": config.run.model_copy(update=overrides)})
    return apply_llm_flags(config, options.user_mode, options.llm, True if options.replay else None)


def _fail(message: str) -> NoReturn:
    sys.stderr.write(f"error: {message}\n")
    sys.exit(2)


def _keep_conversations_running(environment: Any, config: Config) -> None:
    if not _stop_timeout_given():
        # Locust's default (0) kills users mid-conversation at the end of the test.
        environment.stop_timeout = config.run.stop_timeout_s


@events.init.add_listener
def _setup(environment: Any, runner: Any = None, **_kwargs: Any) -> None:
    if getattr(environment, "convoload", None) is not None or hasattr(environment, "convoload_master"):
        return
    if isinstance(runner, MasterRunner):
        _setup_master(environment, environment.parsed_options)
    elif isinstance(runner, WorkerRunner):
        _setup_worker(environment, environment.parsed_options)
    else:
        _setup_standalone(environment, environment.parsed_options)


def _setup_standalone(environment: Any, options: Any) -> None:
    try:
        config = _config(options)
        context = RunContext(config, pinned_persona=options.persona, run_id=options.run_id)
    except ConvoloadError as exc:
        _fail(str(exc))
    bridge_to_locust(context.bus, environment.events)
    budget = ConversationBudget(total=options.conversations)
    environment.convoload = LoadState(context, budget)
    _keep_conversations_running(environment, config)
    if options.conversations is not None:
        gevent.spawn(_end_when_spent, environment, budget)
    where = f" against the demo agent at {context.demo_url}" if context.demo_url else ""
    sys.stderr.write(f"convoload run {context.run_id}{where}; records in {context.run_dir}\n")


def _end_when_spent(environment: Any, budget: ConversationBudget) -> None:
    budget.done.wait()
    if getattr(environment.parsed_options, "headless", True):
        environment.runner.quit()
    else:
        environment.runner.stop()


def _uses_webhooks(config: Config) -> bool:
    target = config.target
    return target.type == "webhook" or (target.type == "demo" and target.demo.agent == "tickets")


def _setup_master(environment: Any, options: Any) -> None:
    try:
        config = _config(options)
        forwarder = _start_forwarder(config)
    except (ConvoloadError, ValueError) as exc:
        _fail(str(exc))
    seed = config.run.seed if config.run.seed is not None else random.SystemRandom().randrange(2**31)
    run_id = options.run_id or new_run_id()
    runs_dir = Path(config.run.runs_dir)
    hub = MasterHub(
        environment,
        run_id=run_id,
        seed=seed,
        run_dir=(runs_dir if runs_dir.is_absolute() else Path.cwd() / runs_dir) / run_id,
        conversations=options.conversations,
        forwarder=forwarder,
        config_source=config.source,
    )
    environment.convoload_master = hub
    _keep_conversations_running(environment, config)
    forwarding = f"; callbacks forwarded from {forwarder.public_url}" if forwarder is not None else ""
    sys.stderr.write(
        f"convoload run {run_id} (master, seed {seed}){forwarding}; aggregate in {hub.run_dir}\n"
    )


def _start_forwarder(config: Config) -> CallbackForwarder | None:
    """The master's one public callback address, when the config asks for it and callbacks are used."""
    settings = config.target.receiver.forwarder
    if settings is None or not _uses_webhooks(config):
        return None
    forwarder = CallbackForwarder(
        settings.host,
        settings.port,
        settings.public_url,
        timeout_s=settings.timeout_s,
        max_body_bytes=config.target.receiver.max_body_bytes,
    )
    try:
        forwarder.start()
    except OSError as exc:
        raise ClusterError(
            f"{config.source}: target.receiver.forwarder.port: cannot listen on "
            f"{settings.host}:{settings.port}: {exc.strerror or exc}"
        ) from None
    try:
        _ = forwarder.public_url  # a bad template fails now, not at the first callback
    except ValueError as exc:
        forwarder.stop()
        raise ClusterError(f"{config.source}: target.receiver.forwarder.public_url: {exc}") from None
    return forwarder


def _setup_worker(environment: Any, options: Any) -> None:
    link = WorkerLink(environment)
    # Locust may spawn users before we are set up: they wait for this (see ConversationUser).
    environment.convoload_pending = pending = Event()
    try:
        setup = link.request_setup()
    except ClusterError as exc:
        _fail(str(exc))
    try:
        config = _config(options, seed=setup["seed"])
        first, stop = index_block(setup["worker_index"], config.run.worker_index_block)
        placement = Placement(
            run_id=setup["run_id"],
            worker_index=setup["worker_index"],
            first_index=first,
            stop_index=stop,
            callback_base=setup["callback_base"],
            conversations=setup["conversations"],
        )
        context = RunContext(config, pinned_persona=options.persona, placement=placement)
    except ConvoloadError as exc:
        # The master ends the test (exit code 2) when told; this worker then quits with it.
        sys.stderr.write(f"error: {exc}\n")
        environment.process_exit_code = 2
        link.fail(str(exc))
        pending.set()
        return
    bridge_to_locust(context.bus, environment.events)
    environment.convoload = LoadState(context, ConversationBudget(total=placement.conversations))
    pending.set()
    link.attach(context)
    sys.stderr.write(
        f"convoload worker {placement.worker_index} of run {placement.run_id}: conversation indices "
        f"{first}-{stop - 1}; records in {context.run_dir}\n"
    )


_HEAP = LoadHeap()


@events.test_start.add_listener
def _test_started(environment: Any, **_kwargs: Any) -> None:
    hub: MasterHub | None = getattr(environment, "convoload_master", None)
    if hub is not None:
        hub.test_started()
    # A process that runs conversations, or a master that may relay their callbacks: a collector pause
    # in either is latency the agent did not cause.
    if hub is not None or getattr(environment, "convoload", None) is not None:
        _HEAP.enter()


@events.test_stopping.add_listener
def _drain_workers(environment: Any, **_kwargs: Any) -> None:
    hub: MasterHub | None = getattr(environment, "convoload_master", None)
    if hub is not None:
        hub.drain()


@events.test_stop.add_listener
def _write_aggregate(environment: Any, **_kwargs: Any) -> None:
    _HEAP.leave()
    hub: MasterHub | None = getattr(environment, "convoload_master", None)
    if hub is not None:
        hub.write()
    state = getattr(environment, "convoload", None)
    if state is not None:
        state.context.aggregate()


@events.quitting.add_listener
def _finish(environment: Any, **_kwargs: Any) -> None:
    from convoload.report.console import print_summary

    console = Console(stderr=True)
    hub: MasterHub | None = getattr(environment, "convoload_master", None)
    if hub is not None:
        document = hub.write()
        if hub.forwarder is not None:
            hub.forwarder.stop()
        print_summary(console, document)
        console.print(f"aggregate: {hub.run_dir}; records on the workers:")
        for worker in document["run"]["distributed"]["workers"]:
            console.print(f"  worker {worker['worker_index']}: {worker['host']}:{worker['records']}")
        return
    state = getattr(environment, "convoload", None)
    if state is None:
        return
    document = state.context.aggregate()
    state.context.close()
    if state.context.placement is not None:  # a worker: the master prints the run's summary
        summary = document["summary"]
        console.print(
            f"convoload worker {state.context.placement.worker_index}: "
            f"{summary['total_conversations']} conversations; records: {state.context.run_dir}"
        )
        return
    print_summary(console, document)
    console.print(f"records: {state.context.run_dir}")
