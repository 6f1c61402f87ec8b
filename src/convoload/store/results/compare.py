"""Run-to-run comparison with direction-aware regression thresholds, to gate CI."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from convoload.model.capacity import CapacityResult
from convoload.model.pipeline import ScenarioResult
from convoload.store.results.stats import RunRow

# Points are absolute changes of a rate (0.02 = 2 percentage points); relative thresholds are a
# fraction of run A's value. Noise below these is normal between two runs of the same system.
RATE_POINTS = 0.02
RELATIVE = 0.10
# The judge's pass rate moves more between two runs than the goal rate: a judge (an LLM) is noisier.
JUDGE_POINTS = 0.05

Better = Literal["higher", "lower"]
Unit = Literal["rate", "ms", "usd", "score"]  # score: 0..1, not a share of anything


@dataclass(frozen=True)
class MetricDelta:
    name: str
    a: float | None
    b: float | None
    better: Better
    unit: Unit
    regression: bool

    @property
    def delta(self) -> float | None:
        return None if self.a is None or self.b is None else self.b - self.a

    @property
    def change_pct(self) -> float | None:
        """Relative change in percent; None when A is zero or missing."""
        if self.a is None or self.b is None or self.a == 0:
            return None
        return 100 * (self.b - self.a) / self.a

    def shown(self, value: float | None) -> str:
        """One of the two values as `runs compare` and the CI summary show it."""
        if value is None:
            return "-"
        if self.unit == "rate":
            return f"{100 * value:.2f}%"
        if self.unit == "usd":
            return f"${value:.6f}"
        if self.unit == "score":
            return f"{value:.3f}"
        return f"{value:,.1f} ms"

    @property
    def delta_text(self) -> str:
        """B - A in the metric's unit (rates in points), with the relative change when it has one."""
        delta = self.delta
        if delta is None:
            return "-"
        if self.unit == "rate":
            return f"{100 * delta:+.2f} pts"
        if self.unit == "score":
            return f"{delta:+.3f}"
        text = f"{delta:+,.6f}" if self.unit == "usd" else f"{delta:+,.1f} ms"
        pct = self.change_pct
        return f"{text} ({pct:+.1f}%)" if pct is not None else text


@dataclass(frozen=True)
class Comparison:
    a: RunRow
    b: RunRow
    metrics: list[MetricDelta]

    @property
    def regressions(self) -> list[MetricDelta]:
        return [m for m in self.metrics if m.regression]

    def metric(self, name: str) -> MetricDelta:
        return next(m for m in self.metrics if m.name == name)


def _rate_drop(a: float, b: float) -> bool:
    return round(a - b, 9) > RATE_POINTS  # rounded: 0.9 - 0.88 must not count as more than 2 points


def _judge_drop(a: float, b: float) -> bool:
    return round(a - b, 9) > JUDGE_POINTS


def _never(a: float, b: float) -> bool:
    return False


def _rate_rise(a: float, b: float) -> bool:
    return round(b - a, 9) > RATE_POINTS


def _relative_rise(a: float, b: float) -> bool:
    if a == 0:
        return b > 0  # from nothing to something: no ratio, but surely worse
    return round((b - a) / a, 9) > RELATIVE


def _metric(
    name: str,
    a: float | None,
    b: float | None,
    better: Better,
    unit: Unit,
    worse: Callable[[float, float], bool],
) -> MetricDelta:
    regression = a is not None and b is not None and worse(a, b)
    return MetricDelta(name, a, b, better, unit, regression)


def _judge_metrics(a: RunRow, b: RunRow) -> list[MetricDelta]:
    """The judge's pass rate (a drop of more than 5 points is a regression) and mean score (shown,
    never a regression on its own), when either run was judged."""
    if a.judge_pass_rate is None and b.judge_pass_rate is None:
        return []
    return [
        _metric("judge pass rate", a.judge_pass_rate, b.judge_pass_rate, "higher", "rate", _judge_drop),
        _metric("judge mean score", a.judge_mean_score, b.judge_mean_score, "higher", "score", _never),
    ]


def compare_runs(a: RunRow, b: RunRow) -> Comparison:
    """B measured against A (the baseline)."""
    return Comparison(
        a,
        b,
        [
            _metric("success rate", a.success_rate, b.success_rate, "higher", "rate", _rate_drop),
            _metric("turn p50", a.turn_p50_ms, b.turn_p50_ms, "lower", "ms", _relative_rise),
            _metric("turn p95", a.turn_p95_ms, b.turn_p95_ms, "lower", "ms", _relative_rise),
            _metric(
                "conversation p95",
                a.conversation_p95_ms,
                b.conversation_p95_ms,
                "lower",
                "ms",
                _relative_rise,
            ),
            _metric(
                "cost per conversation",
                a.cost_per_conversation,
                b.cost_per_conversation,
                "lower",
                "usd",
                _relative_rise,
            ),
            # Simulator + judge + agent cost per goal reached (+10 % is a regression).
            _metric(
                "cost per success", a.cost_per_success, b.cost_per_success, "lower", "usd", _relative_rise
            ),
            _metric("error rate", a.error_rate, b.error_rate, "lower", "rate", _rate_rise),
            *_judge_metrics(a, b),
        ],
    )


def compare_scenarios(a: ScenarioResult, b: ScenarioResult) -> list[MetricDelta]:
    """A pipeline scenario's results B against its baseline A, with a run's thresholds."""
    return [
        _metric("success rate", a.success_rate, b.success_rate, "higher", "rate", _rate_drop),
        _metric("turn p50", a.latency_ms.p50, b.latency_ms.p50, "lower", "ms", _relative_rise),
        _metric("turn p95", a.latency_ms.p95, b.latency_ms.p95, "lower", "ms", _relative_rise),
        _metric("error rate", a.error_rate, b.error_rate, "lower", "rate", _rate_rise),
    ]


# -- capacity runs: whether the knee moved ------------------------------------------------------------


@dataclass(frozen=True)
class KneeMove:
    """Two capacity runs' knees (users that met every SLO; None: not even the first step did)."""

    a: int | None
    b: int | None
    same_test: bool  # the same steps and SLOs: otherwise the knees are not measured alike

    @property
    def moved(self) -> bool:
        return self.a != self.b

    @property
    def regression(self) -> bool:
        """B holds fewer users than A under the same test."""
        return self.same_test and (self.b or 0) < (self.a or 0)

    @property
    def line(self) -> str:
        def users(knee: int | None) -> str:
            return "none" if knee is None else f"{knee} user" if knee == 1 else f"{knee} users"

        caveat = "" if self.same_test else " (different steps or SLOs: not measured alike)"
        if not self.moved:
            return f"capacity knee unchanged at {users(self.a)}{caveat}"
        way = "down" if (self.b or 0) < (self.a or 0) else "up"
        return f"capacity knee moved {way}: {users(self.a)} -> {users(self.b)}{caveat}"


def knee_move(a: CapacityResult, b: CapacityResult) -> KneeMove:
    same = a.settings.steps == b.settings.steps and a.settings.slos == b.settings.slos
    return KneeMove(a.verdict.knee_users, b.verdict.knee_users, same)
