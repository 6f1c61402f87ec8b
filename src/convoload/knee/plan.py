"""The steps and SLOs of a capacity run: the config's `capacity:` section with the flags over it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from convoload.config import CapacityConfig, Config
from convoload.errors import ConfigError
from convoload.model.capacity import (
    JUDGE_SLO_METRICS,
    CapacitySettings,
    Slo,
    check_steps,
    parse_slo,
    step_series,
)


@dataclass(frozen=True, slots=True)
class CapacityPlan:
    steps: list[int]
    step_duration_s: float
    warm_up_s: float
    abort_after_s: float
    abort: bool
    slos: list[Slo]

    def settings(self) -> CapacitySettings:
        return CapacitySettings(
            steps=self.steps,
            step_duration_s=self.step_duration_s,
            warm_up_s=self.warm_up_s,
            abort_after_s=self.abort_after_s,
            abort=self.abort,
            slos=self.slos,
        )


T = TypeVar("T")


def _given(value: T | None, default: T) -> T:
    return default if value is None else value


def resolve_plan(
    config: Config,
    *,
    steps: Sequence[int] | None = None,
    start_users: int | None = None,
    max_users: int | None = None,
    step_duration_s: float | None = None,
    warm_up_s: float | None = None,
    abort_after_s: float | None = None,
    abort: bool | None = None,
    slos: Sequence[str] | None = None,
    flags: dict[str, str] | None = None,
) -> CapacityPlan:
    """The plan: each value given here (a flag, a keyword) over the config's; errors name `flags[name]`
    (the flag as the user typed it) or the config field."""
    section: CapacityConfig = config.capacity
    names = {
        "steps": "capacity.steps",
        "start_users": "capacity.start_users",
        "max_users": "capacity.max_users",
        "step_duration_s": "capacity.step_duration_s",
        "warm_up_s": "capacity.warm_up_s",
        "abort_after_s": "capacity.abort_after_s",
        "slos": "capacity.slos",
        **(flags or {}),
    }

    def fail(name: str, message: str) -> ConfigError:
        flag = (flags or {}).get(name)
        return ConfigError(flag, "", message) if flag else ConfigError(config.source, names[name], message)

    try:
        if steps is not None:
            series = check_steps(list(steps))
        elif start_users is None and max_users is None and section.steps is not None:
            series = list(section.steps)
        else:
            series = step_series(
                _given(start_users, section.start_users), _given(max_users, section.max_users)
            )
    except ValueError as exc:
        raise fail("steps" if steps is not None else "max_users", str(exc)) from None
    for name, value, positive in (
        ("step_duration_s", step_duration_s, True),
        ("warm_up_s", warm_up_s, False),
        ("abort_after_s", abort_after_s, True),
    ):
        if value is not None and (value <= 0 if positive else value < 0):
            raise fail(name, f"must be {'more than' if positive else 'at least'} 0 s (got {value:g})")
    parsed: list[Slo] = []
    for text in _given(slos, section.slos):
        try:
            parsed.append(parse_slo(text))
        except ValueError as exc:
            raise fail("slos", str(exc)) from None
    if not parsed:
        raise fail("slos", "needs at least one SLO, e.g. p95_turn_s<=8")
    on_judge = [s.text for s in parsed if s.metric in JUDGE_SLO_METRICS]
    if on_judge and not config.judge.enabled:
        message = f"{on_judge[0]} needs the conversation judge: set judge.enabled (or capacity --judge)"
        # Named where the SLO came from: the flag, or the config's field.
        raise (
            fail("slos", message)
            if slos is not None
            else ConfigError(config.source, "capacity.slos", message)
        )
    return CapacityPlan(
        steps=series,
        step_duration_s=_given(step_duration_s, section.step_duration_s),
        warm_up_s=_given(warm_up_s, section.warm_up_s),
        abort_after_s=_given(abort_after_s, section.abort_after_s),
        abort=_given(abort, section.abort),
        slos=parsed,
    )
