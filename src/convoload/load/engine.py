"""Run conversations through Locust's real LocalRunner, in this process: a fixed number, or for a time."""

from __future__ import annotations

from dataclasses import dataclass

import gevent
from gevent.event import Event
from locust.env import Environment
from locust.event import Events
from locust.stats import RequestStats

from convoload.events import ConversationFinished, EventBus
from convoload.load.context import RunContext
from convoload.load.heap import LoadHeap
from convoload.load.locust_bridge import bridge_to_locust
from convoload.load.shapes import ProfileShape
from convoload.load.user import ConversationBudget, ConversationUser, LoadState
from convoload.model import Outcome
from convoload.signals import StopRequest


@dataclass
class EngineResult:
    stats: RequestStats
    interrupted: bool  # stopped early (a signal, the duration limit) or conversations cut off


def _reason(stop: StopRequest | None, otherwise: str) -> str:
    return (stop.reason or "a stop request") if stop is not None and stop.is_set() else otherwise


def _until(events: list[Event | gevent.Greenlet | None], timeout: float | None) -> None:
    """Block until one of `events` is set (a greenlet: has ended), or for `timeout` seconds."""
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
    shape: ProfileShape,
    *,
    drain_s: float = 60.0,
    stop: StopRequest | None = None,
) -> EngineResult:
    """A stress test: virtual users hold conversations back to back, as many as `shape` says.

    Locust's runner follows the shape (see load.shapes) and stops the test when it ends: no new
    conversation starts and those under way get `drain_s` to finish; only what is still running
    after that is cut off (and recorded as interrupted). Users a shape removes on the way finish
    their conversation the same way. A `stop` request (a signal) ends the test there and then: no
    drain, what is under way is cut off at once.
    """
    events = Events()
    environment = Environment(
        user_classes=[ConversationUser], events=events, shape_class=shape, stop_timeout=drain_s
    )
    environment.convoload = LoadState(context, ConversationBudget(total=None))  # type: ignore[attr-defined]
    bridge_to_locust(context.bus, events)
    cut_off = _CutOff(context.bus)
    runner = environment.create_local_runner()
    reason: str | None = None
    try:
        with LoadHeap():
            if stop is None or not stop.is_set():
                runner.start_shape()
                # The shape's greenlet returns once the runner has stopped the test, drain included.
                _until([runner.shape_greenlet, stop.event if stop else None], None)
            if stop is not None and stop.is_set():
                reason = _reason(stop, "")
    except KeyboardInterrupt:
        reason = "KeyboardInterrupt"
    finally:
        environment.stop_timeout = 0  # whatever still runs now is cut off at once
        runner.quit()
    if reason is not None:
        context.stop_early(reason)
    return EngineResult(stats=environment.stats, interrupted=reason is not None or cut_off.seen)


class _CutOff:
    """Whether any conversation of the run was cut off (recorded as interrupted)."""

    def __init__(self, bus: EventBus) -> None:
        self.seen = False
        bus.subscribe(ConversationFinished, self._on_finished)

    def _on_finished(self, event: ConversationFinished) -> None:
        if event.record.outcome == Outcome.INTERRUPTED:
            self.seen = True
