"""Run a fixed number of conversations through Locust's real LocalRunner, in this process."""

from __future__ import annotations

from dataclasses import dataclass

from locust.env import Environment
from locust.event import Events
from locust.stats import RequestStats

from convoload.load.context import RunContext
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
        runner.start(users, spawn_rate=users, wait=False)
        finished = budget.done.wait(timeout=duration_s)
        interrupted = not finished
    except KeyboardInterrupt:
        interrupted = True
    finally:
        runner.quit()
    return EngineResult(stats=environment.stats, interrupted=interrupted)
