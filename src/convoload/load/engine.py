"""Run conversations through Locust's real LocalRunner, in this process: a fixed number, or for a time."""

from __future__ import annotations

from dataclasses import dataclass

import gevent
from locust.env import Environment
from locust.event import Events
from locust.stats import RequestStats

from convoload.load.context import RunContext
from convoload.load.heap import LoadHeap
from convoload.load.locust_bridge import bridge_to_locust
from convoload.load.user import ConversationBudget, ConversationUser, LoadState


@dataclass
class EngineResult:
    stats: RequestStats
    interrupted: bool  # stopped early by Ctrl-C or the duration limit


def run_load(
    context: RunContext,
    conversations: int,
    concurrency: int,
    *,
    duration_s: float | None = None,
    ramp_up_s: float = 0.0,
) -> EngineResult:
    """Run `conversations` conversations, `concurrency` at a time; returns Locust's request stats.

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
    interrupted = False
    try:
        with LoadHeap():
            runner.start(users, spawn_rate=users, wait=False)
            finished = budget.done.wait(timeout=duration_s)
            interrupted = not finished
    except KeyboardInterrupt:
        interrupted = True
    finally:
        runner.quit()
    return EngineResult(stats=environment.stats, interrupted=interrupted)


def run_for(
    context: RunContext,
    users: int,
    duration_s: float,
    *,
    steps: list[tuple[float, int]] | None = None,
    ramp_up_s: float = 0.0,
    drain_s: float = 60.0,
) -> EngineResult:
    """A stress test: `users` virtual users hold conversations back to back for `duration_s`.

    `steps` change the number of users during the test ((seconds from start, users) pairs, for spike
    profiles). At the end no new conversation starts and those under way get `drain_s` to finish;
    only what is still running after that is cut off (and recorded as interrupted).
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
    try:
        with LoadHeap():
            runner.start(users, spawn_rate=users, wait=False)
            gevent.sleep(duration_s)  # the test's length, not a synchronisation
            budget.close()
            interrupted = not budget.done.wait(timeout=drain_s)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        for change in changes:
            change.kill(block=False)
        environment.stop_timeout = 0
        runner.quit()
    return EngineResult(stats=environment.stats, interrupted=interrupted)
