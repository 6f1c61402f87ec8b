"""Run conversations through Locust's real LocalRunner, in this process: a fixed number, or for a time."""

from __future__ import annotations

from dataclasses import dataclass

import gevent
from gevent.event import Event
from locust.env import Environment
from locust.event import Events
from locust.stats import RequestStats

from convoload.load.context import RunContext
from convoload.load.heap import LoadHeap
from convoload.load.locust_bridge import bridge_to_locust
from convoload.load.user import ConversationBudget, ConversationUser, LoadState
from convoload.signals import StopRequest


@dataclass
class EngineResult:
    stats: RequestStats
    interrupted: bool  # stopped early (a signal, the duration limit) or conversations cut off


def _reason(stop: StopRequest | None, otherwise: str) -> str:
    return (stop.reason or "a stop request") if stop is not None and stop.is_set() else otherwise


def _until(events: list[Event | None], timeout: float | None) -> None:
    """Block until one of `events` is set, or for `timeout` seconds."""
    waited = [e for e in events if e is not None]
    if waited:
        gevent.wait(waited, timeout=timeout, count=1)
    elif timeout is not None:
        gevent.sleep(timeout)


def run_load(
    context: RunContext,
    conversations: int,
    concurrency: int,
    *,
    duration_s: float | None = None,
    ramp_up_s: float = 0.0,
    stop: StopRequest | None = None,
) -> EngineResult:
    """Run `conversations` conversations, `concurrency` at a time; returns Locust's request stats.

    The duration limit and a `stop` request (a signal) end the run the same way: no new conversation
    starts, those under way are cut off and recorded as interrupted, and the context is told why.
    A private Events instance keeps listeners of a locustfile imported in the
    same process (tests, notebooks) out of this run.
    """
    events = Events()
    # Nothing is in flight when the budget is spent, and an early stop must cut conversations off
    # at once (they are journaled as interrupted), so users are never waited for here.
    environment = Environment(user_classes=[ConversationUser], events=events, stop_timeout=0)
    budget = ConversationBudget(total=conversations)
    users = min(concurrency, conversations)
    environment.convoload = LoadState(context, budget, ramp_up_s=ramp_up_s, ramp_up_users=users)  # type: ignore[attr-defined]
    bridge_to_locust(context.bus, events)
    runner = environment.create_local_runner()
    reason: str | None = None
    try:
        with LoadHeap():
            if stop is None or not stop.is_set():
                runner.start(users, spawn_rate=users, wait=False)
                _until([budget.done, stop.event if stop else None], duration_s)
            if not budget.done.is_set():
                reason = _reason(stop, f"the time limit of {duration_s or 0:g} s")
    except KeyboardInterrupt:
        reason = "KeyboardInterrupt"
    finally:
        budget.close()  # nothing new starts while the users are stopped
        runner.quit()
    if reason is not None:
        context.stop_early(reason)
    return EngineResult(stats=environment.stats, interrupted=reason is not None)


def run_for(
    context: RunContext,
    users: int,
    duration_s: float,
    *,
    steps: list[tuple[float, int]] | None = None,
    ramp_up_s: float = 0.0,
    drain_s: float = 60.0,
    stop: StopRequest | None = None,
) -> EngineResult:
    """A stress test: `users` virtual users hold conversations back to back for `duration_s`.

    `steps` change the number of users during the test ((seconds from start, users) pairs, for spike
    profiles). At the end no new conversation starts and those under way get `drain_s` to finish;
    only what is still running after that is cut off (and recorded as interrupted). A `stop` request
    (a signal) ends the test there and then: no drain, what is under way is cut off at once.
    """
    events = Events()
    # Users removed by a profile step finish their conversation first (up to drain_s); at the very
    # end, after the drain, whatever is left is cut off at once.
    environment = Environment(user_classes=[ConversationUser], events=events, stop_timeout=drain_s)
    budget = ConversationBudget(total=None)
    peak = max([users, *(n for _, n in steps or [])])
    environment.convoload = LoadState(context, budget, ramp_up_s=ramp_up_s, ramp_up_users=peak)  # type: ignore[attr-defined]
    bridge_to_locust(context.bus, events)
    runner = environment.create_local_runner()
    changes = [gevent.spawn_later(at, runner.start, count, spawn_rate=count) for at, count in steps or []]
    interrupted = False
    reason: str | None = None
    stopped = stop.event if stop is not None else None
    try:
        with LoadHeap():
            if stop is None or not stop.is_set():
                runner.start(users, spawn_rate=users, wait=False)
                _until([stopped], duration_s)  # the test's length (or a stop request), not a synchronisation
            budget.close()
            if stop is None or not stop.is_set():
                _until([budget.done, stopped], drain_s)
            if stop is not None and stop.is_set():
                reason = _reason(stop, "")
            interrupted = not budget.done.is_set()
    except KeyboardInterrupt:
        interrupted, reason = True, "KeyboardInterrupt"
    finally:
        for change in changes:
            change.kill(block=False)
        environment.stop_timeout = 0
        runner.quit()
    if reason is not None:
        context.stop_early(reason)
    return EngineResult(stats=environment.stats, interrupted=interrupted)
