"""convoload across Locust's master and workers: the run's setup, its records on the master, a complete end.

The protocol is made of Locust custom messages plus our part of Locust's own periodic worker
report, all on the same ordered connection:

  worker → master  convoload_hello        at the worker's init (repeated until answered)
  master → worker  convoload_setup        {run_id, seed, worker_index, callback_base, conversations,
                                          indices}: indices [first, stop) of a fixed number of
                                          conversations (None: a block, see load.placement)
  worker → master  convoload_ready        {host, pid, run_id, run_dir, receiver_url, meta}
  worker → master  convoload_failed       {error}: the worker could not set up (e.g. a config error)
  worker → master  convoload_records      {start, end, data}: journal lines as they are written (see
                                          load.shipping), at most a window unacknowledged
  master → worker  convoload_records_ack  {offset}: how far the master has that worker's journal
  worker → master  report["convoload"]    {entries, target_stats, in_flight}: every Locust report (3 s)
  master → worker  convoload_drain        {now}: the test is stopping (now: the signal that stops it:
                                          cut off what is under way at once)
  worker → master  convoload_drained      {entries, target_stats, journal_end}: users stopped, every
                                          line shipped (also sent by a worker that leaves on its own,
                                          e.g. on SIGTERM)
  master → worker  convoload_next_run     the setup of the next run: a new test (Locust's web UI starts
                                          any number) is a new run; sent before the test's spawn
                                          messages, so the worker's users start in the new run; the
                                          worker answers with convoload_ready, and its records
                                          messages name the run (run_id) they belong to

The master holds the whole run (load.master_records): every worker's journal lines go into its
journal, conversations/, results-store rows and aggregate, built from those records as a single
process builds its own; entries carry what is not in a record (simulated-user LLM calls, fallbacks,
errors), each sent exactly once. Workers keep their own journal (and files) as well, so nothing
finished is lost if the master dies. Locust's master stops a test without waiting for its workers'
users (and quits 0.5 s after telling them to); the drain makes it wait until every worker has let
its conversations finish (or cut them off, as interrupted, after the stop timeout) and shipped its
last lines. A worker Locust marks missing mid-run (killed outright, its machine gone) is lost: its
conversations in flight, as it last reported them, are counted apart (`lost_with_worker`), the run
goes on with the others and is incomplete.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gevent
from gevent.event import AsyncResult, Event
from locust.runners import HEARTBEAT_INTERVAL, STATE_CLEANUP, STATE_MISSING, STATE_STOPPING

from convoload.errors import InputError
from convoload.load.context import RunContext, new_run_id
from convoload.load.forwarder import CallbackForwarder
from convoload.load.master_records import MasterRecords
from convoload.load.placement import conversation_slice
from convoload.load.shipping import JournalLedger, JournalShipper, Shipment, ShipmentError, ShippingLane
from convoload.model.report import RunReport
from convoload.report.html import REPORT_NAME
from convoload.store.results.engine import StoreOrigin

HELLO = "convoload_hello"
SETUP = "convoload_setup"
READY = "convoload_ready"
FAILED = "convoload_failed"
RECORDS = "convoload_records"
RECORDS_ACK = "convoload_records_ack"
DRAIN = "convoload_drain"
DRAINED = "convoload_drained"
NEXT_RUN = "convoload_next_run"
REPORT_KEY = "convoload"

SETUP_TIMEOUT_S = 60.0
_HELLO_RETRY_S = 5.0
_DRAIN_MARGIN_S = 30.0  # on top of the stop timeout: journaling, the last lines (more while they come)
log = logging.getLogger(__name__)


class ClusterError(InputError):
    """The master and a worker could not agree on a run."""


def _payload(context: RunContext) -> dict[str, Any]:
    # Conversations reach the master as journal lines: their digests would count them twice.
    entries = [entry for entry in context.aggregator.take_entries() if entry[0] != "conversation"]
    return {"entries": entries, "target_stats": context.target_stats()}


class WorkerLink:
    """A worker's side: gets the run from the master, ships its records and numbers, drains on request."""

    def __init__(self, environment: Any) -> None:
        self.environment = environment
        self.runner = environment.runner
        self.context: RunContext | None = None
        self.lane: ShippingLane | None = None
        # Told the setup of the next run (a new test started on the master); set by the plugin.
        self.on_next_run: Callable[[dict[str, Any]], None] | None = None
        self._setup: AsyncResult = AsyncResult()
        # Registered before the hello goes out, so the answer cannot arrive unhandled.
        self.runner.register_message(SETUP, lambda environment, msg, **_: self._setup.set(msg.data))
        self.runner.register_message(DRAIN, self._on_drain, concurrent=True)
        self.runner.register_message(RECORDS_ACK, self._on_ack)
        # Inline (not concurrent): handled before the spawn messages that follow it.
        self.runner.register_message(NEXT_RUN, self._on_next_run)
        environment.events.report_to_master.add_listener(self._on_report)

    def request_setup(self, timeout_s: float = SETUP_TIMEOUT_S) -> dict[str, Any]:
        """The run as the master defines it (blocks this greenlet; messages keep flowing)."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.runner.send_message(HELLO, {"host": socket.gethostname(), "pid": os.getpid()})
            try:
                return self._setup.get(timeout=max(0.01, min(_HELLO_RETRY_S, deadline - time.monotonic())))
            except gevent.Timeout:
                if time.monotonic() >= deadline:
                    raise ClusterError(
                        f"the Locust master did not answer within {timeout_s:g} s: is it running "
                        "convoload's locustfile (locust -f $(convoload locustfile) --master)?"
                    ) from None

    def attach(self, context: RunContext) -> None:
        """Ship `context`'s records (an earlier run's lane closed: everything of it was drained)."""
        if self.lane is not None:
            self.lane.close()
        self.context = context
        receiver = getattr(context.target, "receiver", None)
        self.runner.send_message(
            READY,
            {
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "run_id": context.run_id,
                "run_dir": str(context.run_dir),
                "receiver_url": receiver.public_url if receiver is not None else None,
                "meta": context.meta(),
            },
        )
        run_id = context.spec.conversation_run_id
        self.lane = ShippingLane(
            JournalShipper(context.journal.path),
            lambda message: self.runner.send_message(RECORDS, {**message, "run_id": run_id}),
        )
        self.lane.start()

    def _on_next_run(self, environment: Any, msg: Any, **_kwargs: Any) -> None:
        if self.on_next_run is not None:
            self.on_next_run(msg.data)

    def fail(self, error: str) -> None:
        self.runner.send_message(FAILED, {"error": error})

    def _on_ack(self, environment: Any, msg: Any, **_kwargs: Any) -> None:
        if self.lane is not None:
            self.lane.acknowledged(int(msg.data["offset"]))

    def _on_report(self, client_id: str, data: dict[str, Any], **_kwargs: Any) -> None:
        if self.context is not None:
            data[REPORT_KEY] = {**_payload(self.context), "in_flight": self._in_flight()}

    def _in_flight(self) -> int:
        """Conversations started and not yet journaled: what the master loses if this worker dies."""
        state = getattr(self.environment, "convoload", None)
        return state.budget.claimed - state.budget.finished if state is not None else 0

    def _last_numbers(self) -> dict[str, Any]:
        """Every journal line shipped (the master acknowledged them, or stopped answering), then what
        the master has not had of the numbers."""
        if self.context is None or self.lane is None:
            return {"entries": [], "target_stats": {}}
        self.lane.flush()
        return {**_payload(self.context), "journal_end": self.lane.shipper.size()}

    def close(self) -> None:
        if self.lane is not None:
            self.lane.close()

    def send_last_numbers(self) -> None:
        """After this worker stopped its users on its own: what the master has not had yet."""
        self.runner.send_message(DRAINED, self._last_numbers())

    def _on_drain(self, environment: Any, msg: Any, **_kwargs: Any) -> None:
        reason = (msg.data or {}).get("now")
        if reason:  # the master was told to stop (a signal): no waiting
            self.environment.stop_timeout = 0
            if self.context is not None:
                self.context.stop_early(f"the master's {reason}")
            if self.runner.state in (STATE_CLEANUP, STATE_STOPPING):
                # An earlier drain waits for conversations: cut them off; it then reports as usual.
                self.runner.user_greenlets.kill(block=True)
                return
        # Runner.stop lets running conversations finish for the stop timeout, then cuts them off;
        # either way each is journaled (and its entry taken) before it returns.
        self.runner.stop()
        # Our users are gone: Locust's own "stop" handling, which follows, need not wait for them
        # (it sleeps the stop timeout before the worker is ready for the next test).
        self.environment.stop_timeout = 0
        self.runner.send_message(DRAINED, self._last_numbers())


@dataclass
class WorkerInfo:
    index: int
    client_id: str
    host: str = ""
    pid: int = 0
    run_id: str | None = None
    run_dir: str | None = None
    receiver_url: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    conversations: int = 0  # records received from it
    target_stats: dict[str, int] = field(default_factory=dict)
    ready: bool = False
    drained: bool = False
    journal_end: int | None = None  # its journal's size when it drained
    in_flight: int = 0  # conversations under way, as it last reported
    lost: bool = False  # Locust stopped hearing from it mid-run
    lost_in_flight: int = 0  # its conversations in flight then
    error: str | None = None
    ledger: JournalLedger = field(init=False)

    def __post_init__(self) -> None:
        self.ledger = JournalLedger(f"worker {self.index}")

    @property
    def complete(self) -> bool:
        """Its last numbers came, and every line of its journal."""
        return self.drained and self.journal_end is not None and self.ledger.have >= self.journal_end

    def describe(self) -> dict[str, Any]:
        ledger = self.ledger
        return {
            "worker_index": self.index,
            "host": self.host,
            "pid": self.pid,
            "run_id": self.run_id,
            "records": self.run_dir,
            "receiver_url": self.receiver_url,
            "index_range": self.meta.get("cluster", {}).get("index_range"),
            "conversations": self.conversations,
            "complete": self.complete,
            "journal_bytes": ledger.have,
            "shipped_bytes": ledger.received_bytes,
            **({"gaps": [list(gap) for gap in ledger.gaps]} if ledger.gaps else {}),
            **({"lost": True, "lost_with_worker": self.lost_in_flight} if self.lost else {}),
            **({"error": self.error} if self.error else {}),
        }


class MasterHub:
    """The master's side: sets workers up, records their conversations, writes the whole run."""

    def __init__(
        self,
        environment: Any,
        *,
        run_id: str,
        seed: int,
        run_dir: Path,
        conversations: int | None = None,
        forwarder: CallbackForwarder | None = None,
        config_source: str = "(defaults)",
        store_url: tuple[str, StoreOrigin] | None = None,
        seed_fixed: bool = True,
    ) -> None:
        """Opens the run's records (its results-store row, its folder): an error there raises, with
        nothing registered with Locust yet. `seed_fixed`: the config fixes the seed (else each next
        run of the process draws its own)."""
        self.environment = environment
        self.runner = environment.runner
        self.run_id = run_id
        self.seed = seed
        self.run_dir = run_dir
        self.conversations = conversations
        self.forwarder = forwarder
        self.config_source = config_source
        self.store_url = store_url
        self.seed_fixed = seed_fixed
        self.started_at = datetime.now(UTC).isoformat(timespec="seconds")
        self.workers: dict[int, WorkerInfo] = {}
        self.stopped_by: str | None = None  # what ended the run early (a signal)
        self.records = MasterRecords(run_dir, run_id, self.meta(status="running"), store_url)
        self.aggregator = self.records.aggregator
        self._all_drained = Event()
        self._waiting: set[int] = set()
        self._not_draining = Event()  # clear while a drain waits for its workers
        self._not_draining.set()
        self._ending = False
        self._started = False
        self._exiting = False
        self._closed = False
        self._received = 0  # shipments, for the drain's patience
        self._watcher: gevent.Greenlet | None = None
        self._final: RunReport | None = None
        # Headless, Locust's master waits for its workers *before* it installs its SIGTERM handler,
        # so a SIGTERM then (run_cluster sends one when a worker dies) would kill it with no
        # aggregate. Until the test starts, this one ends the run properly; afterwards Locust's does.
        self._early_term = gevent.signal_handler(signal.SIGTERM, self._terminated_before_start)
        self.runner.register_message(HELLO, self._on_hello)
        self.runner.register_message(READY, self._on_ready)
        self.runner.register_message(FAILED, self._on_failed)
        self.runner.register_message(RECORDS, self._on_records)
        self.runner.register_message(DRAINED, self._on_drained)
        environment.events.worker_report.add_listener(self._on_report)

    # -- setup --------------------------------------------------------------------------------------
    def _expected(self) -> int:
        return max(1, int(getattr(self.environment.parsed_options, "expect_workers", 1) or 1))

    def indices(self, worker_index: int) -> tuple[int, int] | None:
        """Worker `worker_index`'s slice [first, stop) of a fixed number of conversations, after the
        slices of the workers before it: together they play indices 0..N-1, as one process does
        (None: a run until stopped, where each worker uses its block)."""
        if self.conversations is None:
            return None
        return conversation_slice(worker_index, self.conversations, self._expected())

    def share(self, worker_index: int) -> int | None:
        """Worker `worker_index`'s part of a fixed number of conversations (None: until stopped)."""
        indices = self.indices(worker_index)
        return indices[1] - indices[0] if indices is not None else None

    def _worker(self, client_id: str) -> WorkerInfo:
        index = self.runner.get_worker_index(client_id)
        info = self.workers.get(index)
        if info is None:
            info = self.workers[index] = WorkerInfo(index, client_id)
        info.client_id = client_id
        return info

    def _on_hello(self, environment: Any, msg: Any, **_kwargs: Any) -> None:
        info = self._worker(msg.node_id)
        info.host, info.pid = msg.data.get("host", ""), msg.data.get("pid", 0)
        self.runner.send_message(SETUP, self._setup_of(info), client_id=msg.node_id)

    def _setup_of(self, info: WorkerInfo) -> dict[str, Any]:
        """What worker `info` needs to know of the current run."""
        indices = self.indices(info.index)
        return {
            "run_id": self.run_id,
            "seed": self.seed,
            "worker_index": info.index,
            "callback_base": self.forwarder.worker_base(info.index) if self.forwarder else None,
            "conversations": self.share(info.index),
            "indices": list(indices) if indices is not None else None,
        }

    def _on_ready(self, environment: Any, msg: Any, **_kwargs: Any) -> None:
        info = self._worker(msg.node_id)
        data = msg.data
        info.host, info.pid = data["host"], data["pid"]
        info.run_id, info.run_dir, info.meta = data["run_id"], data["run_dir"], data["meta"]
        info.receiver_url = data["receiver_url"]
        info.ready = True
        if self.forwarder is not None and info.receiver_url:
            self.forwarder.route(info.index, info.receiver_url)
        log.info(
            "convoload worker %d ready on %s: its own copy of its records in %s",
            info.index,
            info.host,
            info.run_dir,
        )

    def _on_failed(self, environment: Any, msg: Any, **_kwargs: Any) -> None:
        info = self._worker(msg.node_id)
        info.error = msg.data["error"]
        log.error("convoload worker %d could not start: %s", info.index, info.error)
        self.environment.process_exit_code = 2
        if self._started:
            self._end_test()
        else:  # still waiting for workers: Locust would wait on for the missing one
            gevent.spawn(self.exit_before_start)

    # -- records and numbers ------------------------------------------------------------------------
    def _on_records(self, environment: Any, msg: Any, **_kwargs: Any) -> None:
        info = self._worker(msg.node_id)
        run_id = msg.data.get("run_id") if isinstance(msg.data, dict) else None
        if run_id is not None and run_id != self.run_id:
            log.error(
                "worker %d: journal lines of run %s after it was written (in that worker's journal)",
                info.index,
                run_id,
            )
            return
        if self._closed:
            log.error(
                "worker %d: journal lines after the run's records were closed (in its journal)", info.index
            )
            return
        self._received += 1
        try:
            lines = info.ledger.accept(Shipment.from_message(msg.data))
        except ShipmentError as exc:
            log.error("worker %d: %s", info.index, exc)
        else:
            info.conversations += self.records.add_lines(lines, f"worker {info.index}")
        self.runner.send_message(RECORDS_ACK, {"offset": info.ledger.have}, client_id=msg.node_id)
        self._found(info)
        self._end_when_all_in()

    def _end_when_all_in(self) -> None:
        """A fixed number of conversations: end once every one is recorded, or beyond reach (the
        unplayed share of a lost worker)."""
        if self.conversations is None:
            return
        beyond_reach = sum(
            max(0, (self.share(w.index) or 0) - w.conversations) for w in self.workers.values() if w.lost
        )
        if self.records.count + beyond_reach >= self.conversations:
            self._end_test()

    def _merge(self, client_id: str, payload: dict[str, Any]) -> WorkerInfo:
        info = self._worker(client_id)
        self.aggregator.apply(payload.get("entries") or [])
        info.target_stats = payload.get("target_stats") or info.target_stats
        info.in_flight = payload.get("in_flight", info.in_flight)
        self._found(info)
        return info

    # -- lost workers -------------------------------------------------------------------------------
    def _watch(self) -> None:
        """Locust marks a worker missing after some heartbeats it did not get (and forgets it a minute
        later) but tells no listener: look every heartbeat interval."""
        while True:
            gevent.sleep(HEARTBEAT_INTERVAL)
            for info in list(self.workers.values()):
                if info.lost or not info.ready or info.drained or info.error is not None:
                    continue
                node = self.runner.clients.get(info.client_id)
                if node is None or node.state == STATE_MISSING:
                    self._lose(info)

    def _lose(self, info: WorkerInfo) -> None:
        info.lost, info.lost_in_flight = True, info.in_flight
        log.error(
            "convoload worker %d (%s, pid %d) lost: Locust stopped hearing from it. Its %d conversations "
            "in flight are counted lost_with_worker; the %d it shipped are recorded here, its journal "
            "(%s) keeps what it had not shipped. The run goes on with the others.",
            info.index,
            info.host,
            info.pid,
            info.lost_in_flight,
            info.conversations,
            info.run_dir,
        )
        self._waiting.discard(info.index)
        if not self._waiting:
            self._all_drained.set()
        self._end_when_all_in()

    def _found(self, info: WorkerInfo) -> None:
        """A lost worker that speaks again (Locust heard its heartbeat again): not lost after all."""
        if info.lost:
            info.lost, info.lost_in_flight = False, 0
            log.warning("convoload worker %d is back; it is no longer counted lost", info.index)

    @property
    def lost_with_worker(self) -> int | None:
        """Conversations in flight on the workers the run lost; None when it lost none."""
        lost = [w.lost_in_flight for w in self.workers.values() if w.lost]
        return sum(lost) if lost else None

    def _on_report(self, client_id: str, data: dict[str, Any], **_kwargs: Any) -> None:
        payload = data.get(REPORT_KEY)
        if payload:
            self._merge(client_id, payload)

    def _on_drained(self, environment: Any, msg: Any, **_kwargs: Any) -> None:
        info = self._merge(msg.node_id, msg.data)
        info.drained = True
        info.journal_end = msg.data.get("journal_end")
        if info.journal_end is not None and info.ledger.have < info.journal_end:
            log.error(
                "worker %d: journal bytes %d-%d did not arrive; they are in its journal (%s)",
                info.index,
                info.ledger.have,
                info.journal_end,
                info.run_dir,
            )
        self._waiting.discard(info.index)
        if not self._waiting:
            self._all_drained.set()

    def _end_test(self) -> None:
        """Every conversation asked for is in (or a worker failed): end the test like --run-time does."""
        if self._ending:
            return
        self._ending = True
        headless = bool(getattr(self.environment.parsed_options, "headless", True))
        gevent.spawn(self.runner.quit if headless else self.runner.stop)

    # -- the end ------------------------------------------------------------------------------------
    @property
    def started(self) -> bool:
        return self._started

    def stop_early(self, reason: str) -> None:
        """The run is being ended before it was done (a signal): workers cut off what is under way,
        those a drain already waits for too."""
        self.stopped_by = self.stopped_by or reason
        if self._not_draining.is_set():
            return
        for index in sorted(self._waiting):
            info = self.workers.get(index)
            if info is not None:
                self.runner.send_message(DRAIN, {"now": self.stopped_by}, client_id=info.client_id)

    def _terminated_before_start(self) -> None:
        if not self._started:
            self.environment.process_exit_code = self.environment.process_exit_code or 128 + signal.SIGTERM
            self.stop_early("SIGTERM")
            self.exit_before_start()

    def exit_before_start(self) -> None:
        """End a run whose test never started as Locust's shutdown would: the quitting listeners
        (aggregate, summary), the workers told to quit, the exit code."""
        if self._exiting:
            return
        self._exiting = True
        self.environment.events.quitting.fire(environment=self.environment, reverse=True)
        self.runner.quit()
        # SystemExit in a greenlet is re-raised in the main one, which is in Locust's wait loop.
        sys.exit(self.environment.process_exit_code or 0)

    def test_started(self) -> None:
        if self._final is not None:  # the last test's run is written: this test is the next run
            self._next_run()
        if not self._started:
            self._started = True
            self._early_term.cancel()  # Locust's own SIGTERM handler is in place by now
            self._watcher = gevent.spawn(self._watch)
        self._ending = False
        for info in self.workers.values():
            info.drained = False

    def drain(self) -> None:
        """Have every connected worker stop its users and ship its last lines and numbers; wait for
        them (for the stop timeout and a margin, and on while lines keep coming)."""
        connected = {c.id for c in self.runner.clients.all if c.state != STATE_MISSING}
        targets = [w for w in self.workers.values() if w.ready and not w.drained and w.client_id in connected]
        if not targets:
            return
        self._waiting = {w.index for w in targets}
        self._all_drained.clear()
        self._not_draining.clear()
        log.info(
            "convoload: workers %s stop their users and send their last records (conversations under "
            "way get the stop timeout, %g s)",
            sorted(self._waiting),
            0 if self.stopped_by else self.environment.stop_timeout or 0,
        )
        try:
            for info in targets:
                self.runner.send_message(DRAIN, {"now": self.stopped_by}, client_id=info.client_id)
            timeout = (self.environment.stop_timeout or 0) + _DRAIN_MARGIN_S
            received = self._received
            while not self._all_drained.wait(timeout):
                if self._received == received:
                    log.error(
                        "workers %s did not send their last lines and numbers within %g s; their own "
                        "journals are complete, the run's records here are not",
                        sorted(self._waiting),
                        timeout,
                    )
                    return
                received, timeout = self._received, _DRAIN_MARGIN_S  # lines still coming: wait on
        finally:
            self._not_draining.set()

    def plan(self) -> dict[str, Any]:
        options = self.environment.parsed_options
        plan = {
            "conversations": self.conversations,
            "users": getattr(options, "num_users", None),
            "duration_s": getattr(options, "run_time", None) or None,
        }
        return {k: v for k, v in plan.items() if v is not None}

    def meta(self, status: str = "ended") -> dict[str, Any]:
        """run.json: `running` while the run is under way, else as it ended."""
        first = next((w.meta for _, w in sorted(self.workers.items()) if w.meta), {})
        meta = {k: v for k, v in first.items() if k != "cluster"}
        target_stats: dict[str, int] = {}
        for info in self.workers.values():
            for key, value in info.target_stats.items():
                target_stats[key] = target_stats.get(key, 0) + value
        ended = status != "running"
        meta.update(
            {
                "run_id": self.run_id,
                "started_at": self.started_at,
                **({"finished_at": datetime.now(UTC).isoformat(timespec="seconds")} if ended else {}),
                "seed": self.seed,
                "config": meta.get("config", self.config_source),
                "distributed": {
                    "workers": [w.describe() for _, w in sorted(self.workers.items())],
                    "records": "this folder, from every worker; each worker keeps its own copy "
                    "(workers[].records, on its machine)",
                },
                **({"target_stats": dict(sorted(target_stats.items()))} if ended else {}),
                # The whole run's plan and end, not the first worker's (its share, still running).
                "plan": self.plan(),
                "status": status,
            }
        )
        meta.pop("stopped_by", None)
        if self.stopped_by is not None:
            meta["stopped_by"] = self.stopped_by
        if self.forwarder is not None:
            if ended:
                meta["forwarder_stats"] = self.forwarder.stats()
            meta["distributed"]["forwarder_url"] = self.forwarder.public_url
        return meta

    def write(self, *, final: bool = False) -> RunReport:
        """The run's aggregate, run.json and conversations.csv (and, `final`, report.html) in the
        master's run folder, and the run's row in the results store."""
        return self.records.finish(self.meta(), html=final, lost_with_worker=self.lost_with_worker)

    def _next_run(self) -> None:
        """A new run for a new test (Locust's web UI starts any number): its own id, folder, records
        and store row; each worker set up has its setup (it opens its own next run, on the same
        receiver) before the test's users are spawned."""
        listeners = self.records.listeners
        self.run_id = new_run_id()
        if not self.seed_fixed:
            self.seed = random.SystemRandom().randrange(2**31)
        self.run_dir = self.run_dir.parent / self.run_id
        self.started_at = datetime.now(UTC).isoformat(timespec="seconds")
        self.stopped_by = None
        self._final, self._closed = None, False
        self.workers = {
            index: WorkerInfo(
                index, w.client_id, host=w.host, pid=w.pid, receiver_url=w.receiver_url, ready=w.ready
            )
            for index, w in self.workers.items()
            if not w.lost and w.error is None
        }
        self.records = MasterRecords(self.run_dir, self.run_id, self.meta(status="running"), self.store_url)
        self.records.listeners = listeners
        self.aggregator = self.records.aggregator
        for info in self.workers.values():
            if info.ready:
                self.runner.send_message(NEXT_RUN, self._setup_of(info), client_id=info.client_id)
        log.info("convoload run %s started; records in %s", self.run_id, self.run_dir)

    def end_test(self) -> None:
        """The test has stopped (its workers drained). From the web UI: its run is written, with
        report.html, and closed; the next test is a new run. Headless: the aggregate is written, the
        report and the records' close come at quitting (listeners there may need the records)."""
        if self._final is not None:
            return
        if getattr(self.environment.parsed_options, "headless", True):
            self.write()
            return
        report = self.finish()
        log.info(
            "convoload run %s: %d conversations (%d interrupted); report: %s",
            self.run_id,
            report.summary.total_conversations,
            report.summary.interrupted_conversations,
            self.run_dir / REPORT_NAME,
        )

    def finish(self) -> RunReport:
        """The last write (report.html too), then the run's records closed; once. A drain still under
        way (the web UI's stop, then a signal) is waited for first: its lines belong to the run."""
        if self._final is None:
            if not self._not_draining.wait((self.environment.stop_timeout or 0) + _DRAIN_MARGIN_S):
                log.error(
                    "workers %s did not drain; the run's records here are not complete", sorted(self._waiting)
                )
            self._final = self.write(final=True)
            self._closed = True
            self.records.close()
        return self._final

    def close(self) -> RunReport:
        """The process quits: the lost-worker watch stopped, the current run written (see finish)."""
        if self._watcher is not None:
            self._watcher.kill()
        return self.finish()
