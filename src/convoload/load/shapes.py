"""Load profiles as Locust load shapes: how many virtual users a stress test runs at each moment.

`convoload stress --profile NAME` and the monitor's stress and daily jobs pick one with `profile_shape`;
the engine (`load.engine.run_for`) hands it to Locust's runner (`Environment.shape_class`,
`runner.start_shape()`), which calls `tick()` about once a second and moves to the user count it
returns at its spawn rate (users per second, both ways). `tick()` returns None once the duration is
over, and Locust's runner then stops the test: users under way finish their conversation, up to the
environment's stop timeout (the stress test's drain).

A shape is a pure function of `get_run_time()`, so its stages can be checked with a fake clock.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

from locust import LoadTestShape

Tick = tuple[int, float]  # (users, spawn rate in users per second)


class ProfileShape(LoadTestShape):
    """`users` virtual users at the peak, for `duration_s` seconds; a subclass says how many when.

    `ramp_up_s` spreads the users of the first stage over that long (all at once without it).
    """

    abstract = True  # Locust's marker: not offered as a shape by itself
    name: ClassVar[str]

    def __init__(self, users: int, duration_s: float, *, ramp_up_s: float = 0.0) -> None:
        super().__init__()
        if users < 1:
            raise ValueError(f"users must be at least 1 (got {users})")
        if duration_s <= 0:
            raise ValueError(f"duration must be more than 0 s (got {duration_s:g})")
        if ramp_up_s < 0:
            raise ValueError(f"ramp-up must not be negative (got {ramp_up_s:g})")
        self.users = users
        self.duration_s = duration_s
        self.ramp_up_s = ramp_up_s

    def tick(self) -> Tick | None:
        elapsed = self.get_run_time()
        if elapsed >= self.duration_s:
            return None
        return self.stage(elapsed)

    @abstractmethod
    def stage(self, elapsed: float) -> Tick:
        """Users and spawn rate `elapsed` seconds into the test (before its end)."""

    def _joining(self, users: int) -> Tick:
        return users, users / self.ramp_up_s if self.ramp_up_s > 0 else float(users)


class SteadyShape(ProfileShape):
    """All users from the start."""

    name = "steady"

    def stage(self, elapsed: float) -> Tick:
        return self._joining(self.users)


class RampShape(ProfileShape):
    """Users join at an even pace over the first half of the test (or over `ramp_up_s` if longer)."""

    name = "ramp"

    def __init__(self, users: int, duration_s: float, *, ramp_up_s: float = 0.0) -> None:
        super().__init__(users, duration_s, ramp_up_s=ramp_up_s)
        self.ramp_up_s = max(self.ramp_up_s, duration_s / 2)

    def stage(self, elapsed: float) -> Tick:
        return self._joining(self.users)


class SpikeShape(ProfileShape):
    """A fifth of the users, all of them from 40 % to 70 % of the time, then a fifth again.

    The users a spike adds all join at once and all leave at once; those leaving finish their
    conversation first (up to the stop timeout).
    """

    name = "spike"
    START, END = 0.4, 0.7  # of the duration

    @property
    def base_users(self) -> int:
        return max(1, self.users // 5)

    def stage(self, elapsed: float) -> Tick:
        if elapsed < self.START * self.duration_s:
            return self._joining(self.base_users)
        if elapsed < self.END * self.duration_s:
            return self.users, float(self.users)
        return self.base_users, float(self.users)  # the rate of the way down: all leave at once


PROFILES: dict[str, type[ProfileShape]] = {s.name: s for s in (SteadyShape, RampShape, SpikeShape)}


def profile_shape(profile: str) -> type[ProfileShape]:
    """The named profile's shape class; ValueError names the known profiles."""
    try:
        return PROFILES[profile]
    except KeyError:
        raise ValueError(f"{profile!r} is not one of {', '.join(PROFILES)}") from None
