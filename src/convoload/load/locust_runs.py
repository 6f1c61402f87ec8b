"""The runs of one standalone `locust` process: one convoload run per Locust test.

Locust's web UI (or its REST `/swarm`) can start and stop any number of tests in one process, each
with fresh statistics. Each is a convoload run of its own: its id, folder, journal and results-store
row. The first run is opened when the process starts (a bad config fails then); each later test
opens the next one on the same bundled system, receiver and LLM chain (`RunContext.next_run`).

When a test stops (the UI's stop, `-t`, a shape's end, `--conversations N`) Locust has already
stopped its users: no conversation starts any more, those under way had the stop timeout to finish
and were then cut off (recorded as interrupted). The run's aggregate, report.html and store status
are written then, and a log line (shown in the web UI's log) says where the report is.

Process exit (a signal, the end of a headless test) closes the current run's budget first, so that
no user starts a conversation on records about to close, then stops whatever users are left (a stop
already under way, such as the UI's waiting for conversations, included), and only then writes and
closes the run and stops what the runs shared.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gevent
from locust.runners import STATE_CLEANUP, STATE_RUNNING, STATE_SPAWNING, STATE_STOPPING

from convoload.load.context import RunContext
from convoload.load.locust_bridge import bridge_to_locust
from convoload.load.plan import RunPlan
from convoload.load.user import ConversationBudget, LoadState
from convoload.model.report import RunReport
from convoload.report.html import write_html_report

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WrittenRun:
    """A run whose test has stopped: its records are written and closed."""

    run_id: str
    run_dir: Path
    report_html: Path
    report: RunReport


def stop_users(environment: Any, budget: ConversationBudget) -> None:
    """Before a run's records close at exit: no conversation starts any more (the budget closed),
    and every user has ended, its conversation finished within the stop timeout or cut off (a signal
    sets it to 0) and journaled as interrupted. A stop already under way in another greenlet (the
    web UI's, waiting for conversations) is waited for as long, then its users are cut off."""
    budget.close()
    runner = environment.runner
    if runner is None:
        return
    if runner.state in (STATE_SPAWNING, STATE_RUNNING):
        runner.stop()
    elif runner.state in (STATE_CLEANUP, STATE_STOPPING):
        users = runner.user_greenlets
        if not users.join(timeout=environment.stop_timeout or 0):
            users.kill(block=True)


class LocustRuns:
    """The process's runs (set as `environment.convoload_runs`); `environment.convoload` is the
    current one's LoadState, which the users read at every conversation."""

    def __init__(self, environment: Any, first: RunContext, conversations: int | None) -> None:
        self.environment = environment
        self.conversations = conversations  # per test: `--conversations N`
        self.first = first  # started what every run shares; closing it stops that, at exit
        self.written: list[WrittenRun] = []  # the runs written so far, in order
        self._written = False  # the current run's records are written and closed
        self._exiting = False
        self._ender: gevent.Greenlet | None = None
        self._install(first)

    @property
    def current(self) -> RunContext:
        """The current run: the one under way, else the last one written (until a test starts)."""
        return self.state.context

    @property
    def state(self) -> LoadState:
        state: LoadState = self.environment.convoload
        return state

    def _install(self, context: RunContext) -> None:
        budget = ConversationBudget(total=self.conversations)
        bridge_to_locust(context.bus, self.environment.events)
        self.environment.convoload = LoadState(context, budget)
        self._written = False
        if self.conversations is not None:
            self._ender = gevent.spawn(self._end_when_spent, budget)

    def _end_when_spent(self, budget: ConversationBudget) -> None:
        budget.done.wait()
        if getattr(self.environment.parsed_options, "headless", True):
            self.environment.runner.quit()
        else:
            self.environment.runner.stop()

    def _stop_ender(self) -> None:
        """A spent budget no longer ends anything (unless it is what is ending the test now)."""
        if self._ender is not None and self._ender is not gevent.getcurrent():
            self._ender.kill(block=False)
        self._ender = None

    def test_started(self) -> None:
        """A test starts: the run opened at startup, or the next one when the last was written."""
        if self._exiting or not self._written:
            return
        options = self.environment.parsed_options
        plan = RunPlan(
            conversations=self.conversations,
            users=getattr(options, "num_users", None),
            duration_s=getattr(options, "run_time", None) or None,
        )
        context = self.current.next_run(plan=plan)
        self._install(context)
        log.info("convoload run %s started; records in %s", context.run_id, context.run_dir)

    def test_stopped(self) -> RunReport | None:
        """The test stopped (its users are gone): the run written and closed, its report named. Once."""
        if self._written:
            return None
        self._written = True
        self._stop_ender()
        state = self.state
        state.budget.close()
        context = state.context
        document = context.aggregate()
        context.close_records()  # every line on disk before the report reads the journal
        html = write_html_report(context.run_dir, document)
        report = RunReport.of(document)
        self.written.append(WrittenRun(context.run_id, context.run_dir, html, report))
        log.info(
            "convoload run %s: %d conversations (%d interrupted); report: %s",
            context.run_id,
            report.summary.total_conversations,
            report.summary.interrupted_conversations,
            html,
        )
        return report

    def exit(self) -> None:
        """The process is quitting: no conversation starts, those under way end (after the stop timeout,
        which a signal sets to 0: cut off, interrupted), the current run is written, then what the runs
        shared is stopped."""
        self._exiting = True
        self._stop_ender()
        # A stop under way in another greenlet (the UI's) then finds the run written.
        stop_users(self.environment, self.state.budget)
        try:
            self.test_stopped()
        finally:
            self.first.close()
