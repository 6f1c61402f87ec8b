"""The knee: the highest concurrency that met every SLO, and the first step that broke one."""

from __future__ import annotations

from convoload.model.capacity import StepStats, Verdict


def find_knee(steps: list[StepStats]) -> Verdict:
    """Steps in the order they ran (growing concurrency).

    The knee is the last passing step before the first failing one: a step that passes again after
    a failure (noise, or a system that recovers) does not move it up, since the first failure is
    where customers were first let down.
    """
    knee: int | None = None
    for step in steps:
        if not step.passed:
            return Verdict(knee_users=knee, broke_users=step.users, broken=step.broken)
        knee = step.users
    return Verdict(knee_users=knee, broke_users=None)
