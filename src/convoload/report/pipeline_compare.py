"""A pipeline's scenarios against the same scenarios of a baseline pipeline: what `pipeline --baseline`
shows in the summary and what `--fail-on-regression` exits 1 on, counted the same way in both."""

from __future__ import annotations

from dataclasses import dataclass

from convoload.model.pipeline import PipelineResults
from convoload.report.grading import at_least
from convoload.store.results.compare import MetricDelta, compare_scenarios


@dataclass(frozen=True, slots=True)
class ScenarioChange:
    """One scenario of this pipeline against the baseline's scenario of the same name.

    `before` is None for a scenario the baseline did not run: shown, never a regression. The metrics
    are `compare_scenarios`' (the thresholds of `runs compare`); a lower grade is a regression too.
    """

    name: str
    grade: str
    before: str | None
    metrics: tuple[MetricDelta, ...] = ()

    @property
    def grade_dropped(self) -> bool:
        return self.before is not None and not at_least(self.grade, self.before)

    @property
    def regressions(self) -> list[str]:
        """What regressed, one line each (e.g. `grade A+ -> D`, `success rate 100.00% -> 0.00% ...`)."""
        lines = [f"grade {self.before} -> {self.grade}"] if self.grade_dropped else []
        lines += [
            f"{m.name} {m.shown(m.a)} -> {m.shown(m.b)} ({m.delta_text})"
            for m in self.metrics
            if m.regression
        ]
        return lines


def compare_pipelines(baseline: PipelineResults, results: PipelineResults) -> list[ScenarioChange]:
    """Each scenario of `results` against the same scenario of `baseline`, in `results`' order."""
    before = {scenario.name: scenario for scenario in baseline.scenarios}
    changes = []
    for scenario in results.scenarios:
        old = before.get(scenario.name)
        if old is None:
            changes.append(ScenarioChange(scenario.name, scenario.grade, None))
        else:
            metrics = tuple(compare_scenarios(old, scenario))
            changes.append(ScenarioChange(scenario.name, scenario.grade, old.grade, metrics))
    return changes


def regression_count(changes: list[ScenarioChange]) -> int:
    return sum(len(change.regressions) for change in changes)
