"""convoload inside the `locust` command: options, setup, and the run summary at the end.

Importing this module registers listeners on Locust's global events; the
locustfile does nothing else. Works headless and with the web UI, standalone or
distributed (`--master`/`--worker`, `--processes N`). Each Locust test is one
convoload run (the web UI starts any number, each with fresh statistics): its
own id, folder, journal and store row, written when the test stops (see
convoload.load.locust_runs; on a master, MasterHub's next run). Where each
process keeps its current run: `environment.convoload.context` (a RunContext,
standalone and worker), `environment.convoload_master` (a master's MasterHub:
run_id, run_dir, aggregator).
- standalone: one RunContext (its webhook receiver is a gevent WSGI server in
  the same process) runs and records everything;
- worker: asks the master for the run (id, seed, its share of conversations and
  their indices), then builds a RunContext placed by its worker index — its own
  receiver port and folder (a local copy of its records; no results store) — and
  ships its journal lines and numbers to the master;
- master: runs no conversations; writes the run's records from the workers'
  lines as a single process writes its own (journal, conversations/, aggregate,
  report.html, results-store rows) and the summary, and optionally forwards
  webhook callbacks to workers.
See convoload.load.cluster for the protocol and docs/distributed.md for setups.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import sys
from pathlib import Path
from typing import Any, NoReturn

import gevent
from gevent.event import Event
from locust import events
from locust.runners import STATE_RUNNING, STATE_SPAWNING, MasterRunner, WorkerRunner
from rich.console import Console

from convoload.config import Config, Override, apply_overrides, llm_overrides, load_config
from convoload.errors import InputError
from convoload.load.cluster import ClusterError, MasterHub, WorkerLink
from convoload.load.context import RunContext, new_run_id
from convoload.load.forwarder import CallbackForwarder
from convoload.load.heap import LoadHeap
from convoload.load.locust_bridge import bridge_to_locust
from convoload.load.locust_runs import LocustRuns, stop_users
from convoload.load.openfiles import raise_to_hard_limit
from convoload.load.placement import Placement, index_block, index_slice
from convoload.load.plan import RunPlan
from convoload.load.run_spec import run_store_url
from convoload.load.user import ConversationBudget, ConversationUser, LoadState
from convoload.load.wiring import connection_limits, signature_headers
from convoload.model.report import RunReport
from convoload.signals import exit_code, exit_now, install, say, signal_name

__all__ = ["ConversationUser"]
log = logging.getLogger(__name__)


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
        default=None,
        help="Who plays the customers: scripted (default), llm, mixed or fixed (the config's user.scripts)",
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
        help="End the test (each one the web UI starts) after this many conversations in all (split "
        "across workers); default: until the run time or a stop. Env: CONVOLOAD_CONVERSATIONS",
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
    """The config with this command line's convoload options over it (`seed` over both).

    The options are validated by their config fields' rules, as `convoload run`'s flags are.
    """
    config = load_config(getattr(options, "convoload_config", None))
    overrides = [
        Override("--seed", "run.seed", seed if seed is not None else options.seed),
        Override("--runs-dir", "run.runs_dir", options.runs_dir),
        Override("--max-iterations", "run.max_iterations", options.max_iterations),
        # The whole test's count, split across workers: it obeys run.conversations' rules.
        Override("--conversations", "run.conversations", options.conversations),
        *llm_overrides(config, options.user_mode, options.llm, True if options.replay else None),
    ]
    return apply_overrides(config, overrides)


def _fail(message: str) -> NoReturn:
    sys.stderr.write(f"error: {message}\n")
    sys.exit(2)


def _keep_conversations_running(environment: Any, config: Config) -> None:
    if not _stop_timeout_given():
        # Locust's default (0) kills users mid-conversation at the end of the test.
        environment.stop_timeout = config.run.stop_timeout_s


@events.init.add_listener
def _setup(environment: Any, runner: Any = None, web_ui: Any = None, **_kwargs: Any) -> None:
    if getattr(environment, "convoload", None) is not None or hasattr(environment, "convoload_master"):
        return
    _watch_signals(environment)
    if web_ui is not None:  # standalone or master: the Conversations tab reads the run when asked
        from convoload.load.webui import add_conversations_tab

        add_conversations_tab(environment, web_ui)
    if isinstance(runner, MasterRunner):
        _setup_master(environment, environment.parsed_options)
        return
    # Locust raises the soft open-files limit to 10,000; a worker's share of users is the master's to
    # say, and 10,000 webhook conversations hold twice that many sockets: as far as the machine allows.
    raise_to_hard_limit()
    if isinstance(runner, WorkerRunner):
        _setup_worker(environment, environment.parsed_options)
    else:
        _setup_standalone(environment, environment.parsed_options)


def _watch_signals(environment: Any) -> None:
    """SIGTERM and SIGINT end the test the way its run time does, but at once: conversations under way
    are cut off and recorded as interrupted, the aggregate and summary are written, and the process
    exits 143 or 130. A second signal exits at once (see convoload.signals).

    Locust ends the process on either signal itself (its SIGTERM handler; KeyboardInterrupt, which this
    handler raises in the main greenlet as Python's own would): this one says how, before that
    shutdown gets to read it (every quitting listener of ours yields once first).
    """

    def received(signum: int) -> None:
        if getattr(environment, "convoload_signal", None) is not None:
            exit_now(signum)
        environment.convoload_signal = signum
        environment.process_exit_code = exit_code(signum)
        environment.stop_timeout = 0  # no conversation is waited for
        name = signal_name(signum)
        say(f"{name}: stopping; conversations under way are recorded as interrupted (again to exit at once)")
        state: LoadState | None = getattr(environment, "convoload", None)
        if state is not None:
            state.context.stop_early(name)
        hub: MasterHub | None = getattr(environment, "convoload_master", None)
        if hub is not None:
            hub.stop_early(name)
        if signum == signal.SIGINT:
            if hub is not None and not hub.started:
                hub.exit_before_start()  # Locust's wait for its workers does not handle Ctrl-C
            else:
                event_loop = gevent.get_hub()  # raised in the main greenlet, as gevent does it
                event_loop.loop.run_callback(event_loop.parent.throw, KeyboardInterrupt)

    install(received)


def _signalled(environment: Any) -> bool:
    """Whether a signal is ending this process (after letting a pending handler of ours run)."""
    gevent.sleep(0)  # Locust's SIGTERM handler and ours are woken together: ours runs at this yield
    return getattr(environment, "convoload_signal", None) is not None


def _setup_standalone(environment: Any, options: Any) -> None:
    try:
        config = _config(options)
        plan = RunPlan(
            conversations=options.conversations,
            users=getattr(options, "num_users", None),
            duration_s=getattr(options, "run_time", None) or None,
        )
        context = RunContext(config, pinned_persona=options.persona, run_id=options.run_id, plan=plan)
    except InputError as exc:
        _fail(str(exc))
    # Each test (the web UI starts any number) is a run of its own; this is the first.
    environment.convoload_runs = LocustRuns(environment, context, options.conversations)
    _keep_conversations_running(environment, config)
    where = f" against the bundled system at {context.bundled.url}" if context.bundled else ""
    sys.stderr.write(f"convoload run {context.run_id}{where}; records in {context.run_dir}\n")


def _uses_webhooks(config: Config) -> bool:
    target = config.target
    if target.type == "demo":
        from convoload.bundled import BUNDLED

        return BUNDLED.get(target.demo.agent).callbacks
    return target.type == "webhook"


def _setup_master(environment: Any, options: Any) -> None:
    forwarder: CallbackForwarder | None = None
    try:
        config = _config(options)
        store_url = run_store_url(config)
        forwarder = _start_forwarder(config)
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
            store_url=store_url,
            seed_fixed=config.run.seed is not None,
        )
    except (InputError, ValueError) as exc:
        if forwarder is not None:
            forwarder.stop()
        _fail(str(exc))
    environment.convoload_master = hub
    _keep_conversations_running(environment, config)
    forwarding = f"; callbacks forwarded from {forwarder.public_url}" if forwarder is not None else ""
    sys.stderr.write(f"convoload run {run_id} (master, seed {seed}){forwarding}; records in {hub.run_dir}\n")


def _start_forwarder(config: Config) -> CallbackForwarder | None:
    """The master's one public callback address, when the config asks for it and callbacks are used."""
    settings = config.target.receiver.forwarder
    if settings is None or not _uses_webhooks(config):
        return None
    receiver = config.target.receiver
    signature = receiver.signature
    forwarder = CallbackForwarder(
        settings.host,
        settings.port,
        settings.public_url,
        timeout_s=settings.timeout_s,
        max_body_bytes=receiver.max_body_bytes,
        limits=connection_limits(receiver),
        # The worker checks signatures: the master passes on what they need, and holds no secret.
        forward_headers=signature_headers(signature),
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
        placement = _placement(config, setup)
        context = RunContext(
            config,
            pinned_persona=options.persona,
            placement=placement,
            plan=RunPlan(conversations=placement.conversations),
        )
    except InputError as exc:
        # The master ends the test (exit code 2) when told; this worker then quits with it.
        sys.stderr.write(f"error: {exc}\n")
        environment.process_exit_code = 2
        link.fail(str(exc))
        pending.set()
        return
    bridge_to_locust(context.bus, environment.events)
    environment.convoload = LoadState(context, ConversationBudget(total=placement.conversations))
    environment.convoload_first = context  # what it started serves every run of the process
    link.on_next_run = lambda setup: _next_worker_run(environment, link, setup)
    pending.set()
    link.attach(context)
    # Registered after Locust's own (which tells the master this worker quits), so it runs before it.
    environment.events.quitting.add_listener(lambda environment, **_: _leave(environment, link))
    sys.stderr.write(
        f"convoload worker {placement.worker_index} of run {placement.run_id}: conversation indices "
        f"{placement.first_index}-{placement.stop_index - 1}; its own copy of its records in "
        f"{context.run_dir}\n"
    )


def _placement(config: Config, setup: dict[str, Any]) -> Placement:
    """This worker's place in the run its master's setup describes."""
    if setup.get("indices") is not None:  # a fixed number of conversations: its slice of them
        first, stop = index_slice(*setup["indices"])
    else:
        first, stop = index_block(setup["worker_index"], config.run.worker_index_block)
    return Placement(
        run_id=setup["run_id"],
        worker_index=setup["worker_index"],
        first_index=first,
        stop_index=stop,
        callback_base=setup["callback_base"],
        conversations=setup["conversations"],
    )


def _next_worker_run(environment: Any, link: WorkerLink, setup: dict[str, Any]) -> None:
    """The master started a new test, a new run: the last one's own copy written and closed (its
    test drained: no user left), the next one opened on the same receiver, before any user spawns."""
    state: LoadState = environment.convoload
    stop_users(environment, state.budget)  # the drain stopped them; after a failed one, now
    state.context.aggregate()
    state.context.close_records()
    config = _config(environment.parsed_options, seed=setup["seed"])
    placement = _placement(config, setup)
    context = state.context.next_run(
        config=config, placement=placement, plan=RunPlan(conversations=placement.conversations)
    )
    bridge_to_locust(context.bus, environment.events)
    environment.convoload = LoadState(context, ConversationBudget(total=placement.conversations))
    link.attach(context)
    log.info(
        "convoload worker %d: run %s; its own copy of its records in %s",
        placement.worker_index,
        placement.run_id,
        context.run_dir,
    )


def _leave(environment: Any, link: WorkerLink) -> None:
    """A worker quitting on its own (a signal): its users stopped (under way: interrupted), everything
    journaled, its last lines and numbers sent to the master before Locust tells the master it quits."""
    _signalled(environment)
    if environment.runner.state in (STATE_SPAWNING, STATE_RUNNING):
        environment.runner.stop()
        link.send_last_numbers()
    link.close()


_HEAP = LoadHeap()


@events.test_start.add_listener
def _test_started(environment: Any, **_kwargs: Any) -> None:
    hub: MasterHub | None = getattr(environment, "convoload_master", None)
    if hub is not None:
        hub.test_started()
    runs: LocustRuns | None = getattr(environment, "convoload_runs", None)
    if runs is not None:
        runs.test_started()
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
        hub.end_test()
    runs: LocustRuns | None = getattr(environment, "convoload_runs", None)
    if runs is not None:
        runs.test_stopped()  # the run is written and closed: the next test is a new run
        return
    state = getattr(environment, "convoload", None)
    if state is not None:
        state.context.aggregate()


def stop_on_signal(environment: Any) -> None:
    """Locust quits only after its quitting listeners: on a signal, stop first, so that what is under
    way is recorded (a master drains its workers) before the aggregate and the summary. Listeners
    that need the whole run's records (they run first: Locust fires `quitting` in reverse) call it
    too; once stopped, it does nothing."""
    running = environment.runner is not None and environment.runner.state in (STATE_SPAWNING, STATE_RUNNING)
    if _signalled(environment) and running:
        if getattr(environment, "convoload_master", None) is not None:
            environment.runner.stop(send_stop_to_client=False)
        else:
            environment.runner.stop()


@events.quitting.add_listener
def _finish(environment: Any, **_kwargs: Any) -> None:
    from convoload.report.console import print_summary

    console = Console(stderr=True)
    hub: MasterHub | None = getattr(environment, "convoload_master", None)
    stop_on_signal(environment)
    if hub is not None:
        report = hub.close()
        if hub.forwarder is not None:
            hub.forwarder.stop()
        print_summary(console, report)
        console.print(f"records: {hub.run_dir}  (journal.jsonl, conversations/, aggregate.json, report.html)")
        workers = report.run.distributed.workers if report.run.distributed else []
        for worker in workers:
            console.print(f"  worker {worker.worker_index}'s own copy: {worker.host}:{worker.records}")
        return
    runs: LocustRuns | None = getattr(environment, "convoload_runs", None)
    if runs is not None:
        runs.exit()
        if runs.written:
            print_summary(console, runs.written[-1].report)
        for run in runs.written:
            console.print(f"records: {run.run_dir}  (report: {run.report_html})")
        return
    state = getattr(environment, "convoload", None)
    if state is None:
        return
    stop_users(environment, state.budget)
    report = RunReport.of(state.context.aggregate())
    state.context.close()
    first: RunContext | None = getattr(environment, "convoload_first", None)
    if first is not None:
        first.close()  # what the process's first run started, which every run used
    if state.context.placement is not None:  # a worker: the master prints the run's summary
        console.print(
            f"convoload worker {state.context.placement.worker_index}: "
            f"{report.summary.total_conversations} conversations; records: {state.context.run_dir}"
        )
        return
    print_summary(console, report)
    console.print(f"records: {state.context.run_dir}")
