"""Load profiles as Locust load shapes: each one's ticks, read on a fake clock (no runner, no sleeping)."""

from typing import get_args

import pytest
from locust import LoadTestShape

from convoload.load.shapes import PROFILES, RampShape, SpikeShape, SteadyShape, profile_shape
from convoload.monitor.config import StressJob


def ticks(shape: LoadTestShape, times: list[float]) -> list[tuple[int, float] | None]:
    """What `shape.tick()` returns at each of `times` seconds into the test."""
    seen = []
    for now in times:
        shape.get_run_time = lambda now=now: now  # Locust's shapes read the time only through this
        seen.append(shape.tick())
    return seen


def test_steady_holds_every_user_until_the_end():
    assert ticks(SteadyShape(4, 10), [0, 5, 9.99, 10, 11]) == [(4, 4.0), (4, 4.0), (4, 4.0), None, None]


def test_steady_spreads_its_users_over_the_ramp_up():
    assert ticks(SteadyShape(4, 10, ramp_up_s=2), [0, 9]) == [(4, 2.0), (4, 2.0)]


def test_ramp_has_its_users_join_over_the_first_half():
    # 10 users over 30 s: Locust's runner starts one every 3 s
    assert ticks(RampShape(10, 60), [0, 29, 59.9, 60]) == [(10, 1 / 3), (10, 1 / 3), (10, 1 / 3), None]
    assert ticks(RampShape(10, 60, ramp_up_s=40), [0]) == [(10, 0.25)]  # a longer ramp-up wins


def test_spike_is_a_fifth_then_everyone_then_a_fifth_and_they_leave_at_once():
    times = [0, 39.9, 40, 69.9, 70, 99.9, 100]
    assert ticks(SpikeShape(10, 100), times) == [
        (2, 2.0),
        (2, 2.0),
        (10, 10.0),
        (10, 10.0),
        (2, 10.0),
        (2, 10.0),
        None,
    ]
    assert ticks(SpikeShape(3, 10), [0, 5, 8]) == [(1, 1.0), (3, 3.0), (1, 3.0)]  # never below one user
    assert ticks(SpikeShape(10, 100, ramp_up_s=4), [0, 50]) == [(2, 0.5), (10, 10.0)]


def test_profiles_by_name_and_their_errors():
    assert {name: profile_shape(name) for name in ("steady", "ramp", "spike")} == {
        "steady": SteadyShape,
        "ramp": RampShape,
        "spike": SpikeShape,
    }
    with pytest.raises(ValueError, match=r"^'wave' is not one of steady, ramp, spike$"):
        profile_shape("wave")
    with pytest.raises(ValueError, match="users must be at least 1"):
        SteadyShape(0, 10)
    with pytest.raises(ValueError, match="duration must be more than 0 s"):
        SpikeShape(5, 0)
    with pytest.raises(ValueError, match="ramp-up must not be negative"):
        RampShape(5, 10, ramp_up_s=-1)


def test_the_monitor_config_offers_exactly_the_profiles():
    assert get_args(StressJob.model_fields["profile"].annotation) == tuple(PROFILES)


def test_shapes_are_locust_shapes_and_their_base_is_not_offered():
    for shape in PROFILES.values():
        assert issubclass(shape, LoadTestShape) and not shape.abstract
    assert SteadyShape.__mro__[1].abstract
