"""ConversationUser: a Locust user whose every task is one whole conversation."""

from __future__ import annotations

from dataclasses import dataclass, field

import gevent
from gevent.event import Event
from locust import User, constant, task
from locust.exception import StopUser

from convoload.load.context import RunContext

_IDLE_S = 3600.0


@dataclass
class ConversationBudget:
    """How many conversations may still start (None: until the test stops)."""

    total: int | None = None
    claimed: int = 0
    finished: int = 0
    done: Event = field(default_factory=Event)

    def claim(self) -> bool:
        if self.total is not None and self.claimed >= self.total:
            return False
        self.claimed += 1
        return True

    def finish(self) -> None:
        self.finished += 1
        if self.total is not None and self.finished >= self.total:
            self.done.set()

    def close(self) -> None:
        """No new conversations; `done` fires once those already started have finished."""
        self.total = self.claimed
        if self.finished >= self.total:
            self.done.set()


@dataclass
class LoadState:
    """What a Locust environment carries for convoload (set as `environment.convoload`)."""

    context: RunContext
    budget: ConversationBudget
    ramp_up_s: float = 0.0  # spread the first conversations of `ramp_up_users` over this long
    ramp_up_users: int = 1
    _started_users: int = 0

    def start_delay(self) -> float:
        """Locust spawns users in bursts (once a second); this staggers their first conversations."""
        k = self._started_users
        self._started_users += 1
        if self.ramp_up_s <= 0 or k >= self.ramp_up_users:
            return 0.0
        return self.ramp_up_s * k / self.ramp_up_users


class ConversationUser(User):
    """Runs conversations back to back; the persona and identity change with each one."""

    wait_time = constant(0)

    def on_start(self) -> None:
        state: LoadState | None = getattr(self.environment, "convoload", None)
        if state is not None:
            delay = state.start_delay()
            if delay > 0:
                gevent.sleep(delay)

    @task
    def converse(self) -> None:
        state: LoadState | None = getattr(self.environment, "convoload", None)
        if state is None:
            raise StopUser()  # e.g. on a master, which runs no conversations itself
        if not state.budget.claim():
            # Idle until the runner stops us: a user that ends itself leaves a dead greenlet
            # in Locust's group, which its shutdown then logs as an error.
            state.budget.done.wait()
            gevent.sleep(_IDLE_S)
            return
        try:
            state.context.converse(state.context.claim_index())
        finally:
            state.budget.finish()
