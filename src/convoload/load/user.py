"""ConversationUser: a Locust user whose every task is one whole conversation."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import gevent
from gevent.event import Event
from locust import User, task
from locust.exception import StopUser

from convoload.load.context import RunContext
from convoload.load.placement import IndexSpaceError

_IDLE_S = 3600.0
log = logging.getLogger(__name__)


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

    _spent = False  # no conversation left to start here: wait (interruptibly) until stopped

    def wait_time(self) -> float:
        # A user with nothing left to do must not end itself (Locust logs the dead greenlet at
        # shutdown) nor sleep inside its task (a stop would wait the whole stop timeout for it):
        # between tasks, Locust stops a waiting user at once.
        return _IDLE_S if self._spent else 0.0

    def _convoload_state(self) -> LoadState | None:
        state: LoadState | None = getattr(self.environment, "convoload", None)
        pending: Event | None = getattr(self.environment, "convoload_pending", None)
        if state is None and pending is not None:
            # A worker still setting up (asking its master for the run, starting a demo agent):
            # Locust may spawn users before that is done.
            pending.wait()
            state = getattr(self.environment, "convoload", None)
        return state

    def on_start(self) -> None:
        state = self._convoload_state()
        if state is not None:
            delay = state.start_delay()
            if delay > 0:
                gevent.sleep(delay)

    @task
    def converse(self) -> None:
        state = self._convoload_state()
        if state is None:
            raise StopUser()  # e.g. on a master, which runs no conversations itself
        if not state.budget.claim():
            self._spent = True
            return
        try:
            index = state.context.claim_index()
        except IndexSpaceError as exc:
            log.error("%s", exc)  # once: after close() no user gets this far again
            state.budget.finish()
            state.budget.close()  # like a spent budget: this process starts no more conversations
            self._spent = True
            return
        try:
            state.context.converse(index)
        finally:
            state.budget.finish()
