"""convoload across Locust's master and workers: the run's setup, merged numbers, a complete end.

The protocol is made of Locust custom messages plus our part of Locust's own periodic worker
report (so numbers travel with the request statistics, on the same ordered connection):

  worker → master  convoload_hello      at the worker's init (repeated until answered)
  master → worker  convoload_setup      {run_id, seed, worker_index, callback_base, conversations}
  worker → master  convoload_ready      {host, pid, run_id, run_dir, receiver_url, meta}
  worker → master  convoload_failed     {error}: the worker could not set up (e.g. a config error)
  worker → master  report["convoload"]  {entries, target_stats}: every Locust report (3 s)
  master → worker  convoload_drain      {now}: the test is stopping (now: the signal that stops it:
                                        cut off what is under way at once)
  worker → master  convoload_drained    {entries, target_stats}: users stopped, all journaled (also
                                        sent by a worker that leaves on its own, e.g. on SIGTERM)

Entries are the worker aggregator's (see report.aggregate): each is sent exactly once, so the
master's aggregate equals the sum of the workers'. Locust's master stops a test without waiting
for its workers' users (and quits 0.5 s after telling them to); the drain makes it wait until
every worker has let its conversations finish (or cut them off, as interrupted, after the stop
timeout) and sent its last entries.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gevent
from gevent.event import AsyncResult, Event
from locust.runners import STATE_MISSING

from convoload.errors import InputError
from convoload.load.context import RunContext
from convoload.load.forwarder import CallbackForwarder
from convoload.model.report import RunReport
from convoload.report.aggregate import Aggregator
from convoload.report.grading import assess_report
from convoload.report.tables import write_conversations_csv
from convoload.store.journal import AGGREGATE_NAME, META_NAME, write_json

HELLO = "convoload_hello"
SETUP = "convoload_setup"
READY = "convoload_ready"
FAILED = "convoload_failed"
DRAIN = "convoload_drain"
DRAINED = "convoload_drained"
REPORT_KEY = "convoload"

SETUP_TIMEOUT_S = 60.0
_HELLO_RETRY_S = 5.0
_DRAIN_MARGIN_S = 30.0  # on top of the stop timeout: journaling, the last report
log = logging.getLogger(__name__)


class ClusterError(InputError):
    """The master and a worker could not agree on a run."""


def _payload(context: RunContext) -> dict[str, Any]:
    return {"entries": context.aggregator.take_entries(), "target_stats": context.target.stats()}


class WorkerLink:
    """A worker's side: gets the run from the master, ships its numbers, drains on request."""

    def __init__(self, environment: Any) -> None:
        self.environment = environment
        self.runner = environment.runner
        self.context: RunContext | None = None
        self._setup: AsyncResult = AsyncResult()
        # Registered before the hello goes out, so the answer cannot arrive unhandled.
        self.runner.register_message(SETUP, lambda environment, msg, **_: self._setup.set(msg.data))
        self.runner.register_message(DRAIN, self._on_drain, concurrent=True)
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

    def fail(self, error: str) -> None:
        self.runner.send_message(FAILED, {"error": error})

    def _on_report(self, client_id: str, data: dict[str, Any], **_kwargs: Any) -> None:
        if self.context is not None:
            data[REPORT_KEY] = _payload(self.context)

    def send_last_numbers(self) -> None:
        """After this worker stopped its users on its own: what the master has not had yet."""
        self.runner.send_message(DRAINED, _payload(self.context) if self.context is not None else {})

    def _on_drain(self, environment: Any, msg: Any, **_kwargs: Any) -> None:
        reason = (msg.data or {}).get("now")
        if reason:  # the master was told to stop (a signal): no waiting
            self.environment.stop_timeout = 0
            if self.context is not None:
                self.context.stop_early(f"the master's {reason}")
        # Runner.stop lets running conversations finish for the stop timeout, then cuts them off;
        # either way each is journaled (and its entry taken) before it returns.
        self.runner.stop()
        # Our users are gone: Locust's own "stop" handling, which follows, need not wait for them
        # (it sleeps the stop timeout before the worker is ready for the next test).
        self.environment.stop_timeout = 0
        if self.context is not None:
            self.runner.send_message(DRAINED, _payload(self.context))
        else:
            self.runner.send_message(DRAINED, {"entries": [], "target_stats": {}})


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
    conversations: int = 0
    target_stats: dict[str, int] = field(default_factory=dict)
    ready: bool = False
    drained: bool = False
    error: str | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "worker_index": self.index,
            "host": self.host,
            "pid": self.pid,
            "run_id": self.run_id,
            "records": self.run_dir,
            "receiver_url": self.receiver_url,
            "index_range": self.meta.get("cluster", {}).get("index_range"),
            "conversations": self.conversations,
            "complete": self.drained,
            **({"error": self.error} if self.error else {}),
        }


class MasterHub:
    """The master's side: sets workers up, merges their numbers, writes the run's aggregate."""

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
    ) -> None:
        self.environment = environment
        self.runner = environment.runner
        self.run_id = run_id
        self.seed = seed
        self.run_dir = run_dir
        self.conversations = conversations
        self.forwarder = forwarder
        self.config_source = config_source
        self.started_at = datetime.now(UTC).isoformat(timespec="seconds")
        self.aggregator = Aggregator()
        self.workers: dict[int, WorkerInfo] = {}
        self._all_drained = Event()
        self._waiting: set[int] = set()
        self._ending = False
        self._started = False
        self._exiting = False
        self.stopped_by: str | None = None  # what ended the run early (a signal)
        # Headless, Locust's master waits for its workers *before* it installs its SIGTERM handler,
        # so a SIGTERM then (run_cluster sends one when a worker dies) would kill it with no
        # aggregate. Until the test starts, this one ends the run properly; afterwards Locust's does.
        self._early_term = gevent.signal_handler(signal.SIGTERM, self._terminated_before_start)
        self.runner.register_message(HELLO, self._on_hello)
        self.runner.register_message(READY, self._on_ready)
        self.runner.register_message(FAILED, self._on_failed)
        self.runner.register_message(DRAINED, self._on_drained)
        environment.events.worker_report.add_listener(self._on_report)

    # -- setup --------------------------------------------------------------------------------------
    def share(self, worker_index: int) -> int | None:
        """Worker `worker_index`'s part of a fixed number of conversations (None: until stopped)."""
        if self.conversations is None:
            return None
        expected = max(1, int(getattr(self.environment.parsed_options, "expect_workers", 1) or 1))
        if worker_index >= expected:
            return 0  # more workers than expected: the expected ones already hold every conversation
        base, extra = divmod(self.conversations, expected)
        return base + (1 if worker_index < extra else 0)

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
        self.runner.send_message(
            SETUP,
            {
                "run_id": self.run_id,
                "seed": self.seed,
                "worker_index": info.index,
                "callback_base": self.forwarder.worker_base(info.index) if self.forwarder else None,
                "conversations": self.share(info.index),
            },
            client_id=msg.node_id,
        )

    def _on_ready(self, environment: Any, msg: Any, **_kwargs: Any) -> None:
        info = self._worker(msg.node_id)
        data = msg.data
        info.host, info.pid = data["host"], data["pid"]
        info.run_id, info.run_dir, info.meta = data["run_id"], data["run_dir"], data["meta"]
        info.receiver_url = data["receiver_url"]
        info.ready = True
        if self.forwarder is not None and info.receiver_url:
            self.forwarder.route(info.index, info.receiver_url)
        log.info("convoload worker %d ready on %s: records in %s", info.index, info.host, info.run_dir)

    def _on_failed(self, environment: Any, msg: Any, **_kwargs: Any) -> None:
        info = self._worker(msg.node_id)
        info.error = msg.data["error"]
        log.error("convoload worker %d could not start: %s", info.index, info.error)
        self.environment.process_exit_code = 2
        if self._started:
            self._end_test()
        else:  # still waiting for workers: Locust would wait on for the missing one
            gevent.spawn(self.exit_before_start)

    # -- numbers ------------------------------------------------------------------------------------
    def _merge(self, client_id: str, payload: dict[str, Any]) -> WorkerInfo:
        info = self._worker(client_id)
        entries = payload.get("entries") or []
        self.aggregator.apply(entries)
        info.conversations += sum(1 for kind, _ in entries if kind == "conversation")
        info.target_stats = payload.get("target_stats") or info.target_stats
        if self.conversations is not None and self.aggregator.run.conversations >= self.conversations:
            self._end_test()
        return info

    def _on_report(self, client_id: str, data: dict[str, Any], **_kwargs: Any) -> None:
        payload = data.get(REPORT_KEY)
        if payload:
            self._merge(client_id, payload)

    def _on_drained(self, environment: Any, msg: Any, **_kwargs: Any) -> None:
        info = self._merge(msg.node_id, msg.data)
        info.drained = True
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
        """The run is being ended before it was done (a signal): workers cut off what is under way."""
        self.stopped_by = self.stopped_by or reason

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
        if not self._started:
            self._started = True
            self._early_term.cancel()  # Locust's own SIGTERM handler is in place by now
        self._ending = False
        for info in self.workers.values():
            info.drained = False

    def drain(self) -> None:
        """Have every connected worker stop its users and send its last numbers; wait for them."""
        connected = {c.id for c in self.runner.clients.all if c.state != STATE_MISSING}
        targets = [w for w in self.workers.values() if w.ready and not w.drained and w.client_id in connected]
        if not targets:
            return
        self._waiting = {w.index for w in targets}
        self._all_drained.clear()
        for info in targets:
            self.runner.send_message(DRAIN, {"now": self.stopped_by}, client_id=info.client_id)
        timeout = (self.environment.stop_timeout or 0) + _DRAIN_MARGIN_S
        if not self._all_drained.wait(timeout):
            log.error(
                "workers %s did not send their last numbers within %g s; their records are complete, "
                "the merged aggregate is not",
                sorted(self._waiting),
                timeout,
            )

    def plan(self) -> dict[str, Any]:
        options = self.environment.parsed_options
        plan = {
            "conversations": self.conversations,
            "users": getattr(options, "num_users", None),
            "duration_s": getattr(options, "run_time", None) or None,
        }
        return {k: v for k, v in plan.items() if v is not None}

    def meta(self) -> dict[str, Any]:
        first = next((w.meta for _, w in sorted(self.workers.items()) if w.meta), {})
        meta = {k: v for k, v in first.items() if k != "cluster"}
        target_stats: dict[str, int] = {}
        for info in self.workers.values():
            for key, value in info.target_stats.items():
                target_stats[key] = target_stats.get(key, 0) + value
        meta.update(
            {
                "run_id": self.run_id,
                "started_at": self.started_at,
                "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "seed": self.seed,
                "config": meta.get("config", self.config_source),
                "distributed": {
                    "workers": [w.describe() for _, w in sorted(self.workers.items())],
                    "records": "each worker's journal, on its machine (workers[].records)",
                },
                "target_stats": dict(sorted(target_stats.items())),
                # The whole run's plan and end, not the first worker's (its share, still running).
                "plan": self.plan(),
                "status": "ended",
            }
        )
        meta.pop("stopped_by", None)
        if self.stopped_by is not None:
            meta["stopped_by"] = self.stopped_by
        if self.forwarder is not None:
            meta["forwarder_stats"] = self.forwarder.stats()
            meta["distributed"]["forwarder_url"] = self.forwarder.public_url
        return meta

    def write(self) -> RunReport:
        """The merged aggregate (and run.json, conversations.csv) in the master's run folder."""
        meta = self.meta()
        report = RunReport.from_document(self.aggregator.document(meta), run_dir=self.run_dir)
        summary = report.summary
        ended_well = report.complete and not summary.interrupted_conversations
        report.run.status = meta["status"] = "finished" if ended_well else "interrupted"
        report.assessment = assess_report(report)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        write_json(self.run_dir / META_NAME, meta)
        write_json(self.run_dir / AGGREGATE_NAME, report.to_document())
        write_conversations_csv(self.run_dir, report)
        return report
