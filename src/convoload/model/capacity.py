"""What `convoload capacity` finds: each concurrency step's numbers, the SLOs checked over it, the knee.

Written as `capacity.json` in the run folder and read back by `CapacityResult.from_json` (the HTML
page, the results store and `runs compare` all read this one model).
"""

from __future__ import annotations

import math
import re
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CAPACITY_NAME = "capacity.json"

# The metrics an SLO may name, each with what it measures over a step.
SloMetric = Literal[
    "goal_rate",
    "error_rate",
    "p50_turn_s",
    "p95_turn_s",
    "p99_turn_s",
    "turns_to_goal_p50",
    "turns_to_goal_p95",
    "cost_per_success_usd",
    "tokens_per_success",
    "judge_pass_rate",
    "judge_score",
]
SLO_METRICS: dict[str, str] = {
    "goal_rate": "conversations that reached their goal / conversations finished (0..1)",
    "error_rate": "failed turns / turns (0..1)",
    "p50_turn_s": "median turn latency, seconds",
    "p95_turn_s": "95th percentile turn latency, seconds",
    "p99_turn_s": "99th percentile turn latency, seconds",
    "turns_to_goal_p50": "median turns a conversation took to reach its goal",
    "turns_to_goal_p95": "95th percentile of the turns to the goal",
    "cost_per_success_usd": "simulated-user + agent-reported + judge dollars per conversation that reached "
    "its goal",
    "tokens_per_success": "simulated-user tokens spent per conversation that reached its goal",
    "judge_pass_rate": "conversations the judge passed / conversations it judged (0..1; needs the judge)",
    "judge_score": "the judge's mean normalised score (0..1; needs the judge)",
}
# Known only once the run has ended and its conversations are judged: never a reason to stop the run
# early, checked on every step measured (see knee.tally).
JUDGE_SLO_METRICS = frozenset({"judge_pass_rate", "judge_score"})


class SloOp(StrEnum):
    GE = ">="
    LE = "<="
    GT = ">"
    LT = "<"


class Slo(BaseModel):
    """One objective: `metric op threshold`, e.g. p95_turn_s <= 8."""

    model_config = ConfigDict(frozen=True)

    metric: SloMetric
    op: SloOp
    threshold: float

    @property
    def text(self) -> str:
        return f"{self.metric}{self.op.value}{self.threshold:g}"

    def holds(self, value: float | None) -> bool:
        """Whether `value` meets the objective; a step without the data to tell (None, NaN) does not."""
        if value is None or math.isnan(value):
            return False
        match self.op:
            case SloOp.GE:
                return value >= self.threshold
            case SloOp.LE:
                return value <= self.threshold
            case SloOp.GT:
                return value > self.threshold
            case SloOp.LT:
                return value < self.threshold


class SloCheck(BaseModel):
    """One SLO over one step: the value measured and whether it held."""

    slo: Slo
    value: float | None
    passed: bool

    @property
    def text(self) -> str:
        shown = "no data" if self.value is None else f"{self.value:.4g}"
        return f"{self.slo.text} (measured {shown})"


class FailedConversation(BaseModel):
    """A conversation of the step that did not reach its goal, and where its transcript is."""

    session_id: str
    user_id: int
    persona: str
    outcome: str | None
    transcript: str  # relative to the run folder: conversations/conversation_<user>_<session>.json


class StepJudgement(BaseModel):
    """The conversation judge's scores over a step's conversations (set when the run is judged)."""

    judged: int = 0
    passed: int = 0
    criteria: dict[str, float] = Field(default_factory=dict)  # criterion -> mean normalised score (0..1)
    judge_errors: int = 0  # conversations of the step the judge could not score
    pass_rate: float | None = None  # passed / judged; None when none was judged
    mean_score: float | None = None  # mean normalised score (0..1)
    cost_usd: float = 0.0  # what judging the step's conversations cost


class StepStats(BaseModel):
    """One concurrency step: conversations that started in its measured window, and what they did."""

    index: int
    users: int
    start_s: float  # seconds into the run the step began (its warm-up first)
    measure_from_s: float  # the end of its warm-up: conversations started from here count
    end_s: float  # when it ended (earlier than planned when the run stopped during it)
    conversations_started: int = 0
    conversations_finished: int = 0
    warm_up_conversations: int = 0  # started during the warm-up: not measured
    goals: int = 0
    interrupted: int = 0
    goal_rate: float | None = None
    turns_to_goal_p50: float | None = None
    turns_to_goal_p95: float | None = None
    turns: int = 0
    failed_turns: int = 0
    p50_turn_s: float | None = None
    p95_turn_s: float | None = None
    p99_turn_s: float | None = None
    error_rate: float | None = None
    errors_by_kind: dict[str, int] = Field(default_factory=dict)
    tokens: int = 0
    cost_usd: float = 0.0  # the simulated users'
    agent_cost_usd: float = 0.0  # what the agent reported its turns cost
    tokens_per_success: float | None = None
    cost_per_success_usd: float | None = None  # simulated users + agent + judge, per goal reached
    judge: StepJudgement | None = None  # absent until the conversation judge has scored the run
    checks: list[SloCheck] = Field(default_factory=list)
    passed: bool = False
    cut_short: bool = False  # the run stopped during this step (an SLO broken past --abort-after, a signal)
    failed_conversations: list[FailedConversation] = Field(default_factory=list)

    def metric(self, name: str) -> float | None:
        """The value an SLO on `name` (one of SLO_METRICS) checks."""
        if name in JUDGE_SLO_METRICS:
            if self.judge is None:
                return None
            value = self.judge.pass_rate if name == "judge_pass_rate" else self.judge.mean_score
            return None if value is None else float(value)
        value = getattr(self, name)
        return None if value is None else float(value)

    @property
    def broken(self) -> list[SloCheck]:
        return [c for c in self.checks if not c.passed]


def users(count: int) -> str:
    return f"{count} user" if count == 1 else f"{count} users"


class Verdict(BaseModel):
    """The knee: the highest concurrency that met every SLO, the first that broke one and which."""

    knee_users: int | None  # None: not even the first step met the SLOs
    broke_users: int | None  # None: no step broke one
    broken: list[SloCheck] = Field(default_factory=list)

    @property
    def line(self) -> str:
        held = f"capacity: {users(self.knee_users)}" if self.knee_users is not None else "capacity: none"
        if self.broke_users is None:
            return f"{held} — every step met the SLOs"
        why = "; ".join(c.text for c in self.broken)
        return f"{held} — broke at {users(self.broke_users)}: {why}"


class CapacitySettings(BaseModel):
    """How the run was stepped and judged."""

    steps: list[int]
    step_duration_s: float
    warm_up_s: float
    abort_after_s: float
    abort: bool
    slos: list[Slo]


class CapacityResult(BaseModel):
    """capacity.json: the settings, every step that ran, the verdict."""

    run_id: str
    settings: CapacitySettings
    steps: list[StepStats]
    verdict: Verdict
    stopped_early: str | None = None  # why the steps after the last one did not run

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    @classmethod
    def from_json(cls, text: str | bytes) -> CapacityResult:
        return cls.model_validate_json(text)


_SLO_PATTERN = re.compile(
    r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|>|<)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*"
)


def parse_slo(text: str) -> Slo:
    """`goal_rate>=0.85` as an Slo: a metric of SLO_METRICS, one of >= <= > <, a number.

    ValueError says what is wrong in one line (the caller names the flag or field).
    """
    match = _SLO_PATTERN.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not METRIC OP NUMBER (OP one of >= <= > <), e.g. p95_turn_s<=8")
    metric, op, number = match.groups()
    if metric not in SLO_METRICS:
        raise ValueError(f"unknown SLO metric {metric!r} (one of {', '.join(SLO_METRICS)})")
    return Slo.model_validate({"metric": metric, "op": op, "threshold": float(number)})


def step_series(start_users: int, max_users: int, factor: int = 2) -> list[int]:
    """start, start*factor, ... up to max_users, which always ends the series (1, 2, 4, 8, 10 for 10)."""
    if start_users < 1:
        raise ValueError(f"the first step needs at least 1 user (got {start_users})")
    if max_users < start_users:
        raise ValueError(f"max users ({max_users}) is below the first step's ({start_users})")
    if factor < 2:
        raise ValueError(f"the factor must be at least 2 (got {factor})")
    steps = [start_users]
    while steps[-1] * factor < max_users:
        steps.append(steps[-1] * factor)
    if steps[-1] != max_users:
        steps.append(max_users)
    return steps


def check_steps(steps: list[int]) -> list[int]:
    """Steps as given (`5,10,20`): at least one, each at least 1 user, each more than the one before."""
    if not steps:
        raise ValueError("needs at least one step")
    for before, after in zip([0, *steps], steps, strict=False):
        if after < 1:
            raise ValueError(f"a step needs at least 1 user (got {after})")
        if after <= before:
            raise ValueError(f"steps must grow: {after} after {before}")
    return steps


def parse_steps(text: str) -> list[int]:
    """`5,10,20,40` as [5, 10, 20, 40] (checked by check_steps)."""
    try:
        steps = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"{text!r} is not a comma-separated list of user counts, e.g. 5,10,20") from None
    return check_steps(steps)
