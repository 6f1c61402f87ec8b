"""The capacity steps as a Locust load shape, recording where each step really began and ended.

Locust's runner calls `tick()` about once a second (see load.shapes): a step begins on the first tick
past the end of the one before, so its boundaries are those ticks, not the planned times. At each
tick the shape asks its `referee` (the tally) whether to go on: None goes on, a reason stops the run
there (Locust then lets the conversations under way finish, up to the drain).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from convoload.load.shapes import ProfileShape, Tick


@dataclass(slots=True)
class StepWindow:
    """One step as it ran: seconds into the run (the shape's clock)."""

    index: int
    users: int
    start_s: float
    measure_from_s: float  # after the warm-up
    end_s: float | None = None  # None while it runs
    cut_short: bool = False


class Referee(Protocol):
    def during(self, step: StepWindow, now: float) -> str | None:
        """While `step` runs: a reason to stop now, or None."""

    def after(self, step: StepWindow, now: float) -> str | None:
        """When `step` has run its time: a reason not to go on to the next, or None."""


class CapacityShape(ProfileShape):
    """`steps` users, one after the other, each for `warm_up_s` then `step_duration_s`."""

    name = "capacity"

    def __init__(self, steps: list[int], step_duration_s: float, warm_up_s: float) -> None:
        super().__init__(max(steps), len(steps) * (warm_up_s + step_duration_s))
        self.planned = list(steps)
        self.step_duration_s = step_duration_s
        self.warm_up_s = warm_up_s
        self.windows: list[StepWindow] = []
        self.referee: Referee | None = None
        self.stop_reason: str | None = None

    @property
    def current(self) -> StepWindow | None:
        """The step running now (None before the first and once the run stopped)."""
        if self.windows and self.windows[-1].end_s is None:
            return self.windows[-1]
        return None

    def now(self) -> float:
        return self.get_run_time()

    def tick(self) -> Tick | None:
        now = self.get_run_time()
        step = self.current
        if step is None:
            if self.windows:  # stopped
                return None
            step = self._begin(0, now)
        elif now >= step.measure_from_s + self.step_duration_s:
            reason = self.referee.after(step, now) if self.referee is not None else None
            step.end_s = now
            if reason is None and step.index + 1 < len(self.planned):
                step = self._begin(step.index + 1, now)
            else:
                self.stop_reason = reason
                return None
        elif self.referee is not None and now >= step.measure_from_s:
            reason = self.referee.during(step, now)
            if reason is not None:
                self.end(now, reason)
                return None
        return step.users, float(step.users)  # all of a step's new users join at once

    def stage(self, elapsed: float) -> Tick:
        step = self.current
        users = step.users if step is not None else self.planned[0]
        return users, float(users)

    def end(self, now: float, reason: str | None) -> None:
        """The run stops during the current step (a broken SLO, a signal): it ends here, cut short."""
        step = self.current
        if step is not None:
            step.end_s = now
            step.cut_short = True
        self.stop_reason = self.stop_reason or reason

    def _begin(self, index: int, now: float) -> StepWindow:
        window = StepWindow(index, self.planned[index], now, now + self.warm_up_s)
        self.windows.append(window)
        return window
