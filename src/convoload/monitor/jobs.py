"""What each monitor job says when it ends: its summary, typed.

The results store keeps a job's summary as JSON (`JobSummary.to_json()`, the same object as ever: a
summary is built with every field its job reports, since a field left out is left out of the JSON); the
dashboard shows it, the daily report reads its verdict and advice, and the monitor's terminal prints
its `highlights()`. `read_summary` reads a stored summary back into the model of its job; one this
version cannot read (written by another version, or by hand) becomes a plain `JobSummary` that keeps
every key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import RootModel, ValidationError

from convoload.model.document import Document, Number


class JobSummary(Document):
    """A finished job's summary; subclasses say what each job reports."""

    def to_json(self) -> dict[str, Any]:
        """The summary as the store, the dashboard and `monitor --once` show it."""
        return self.to_document()

    def advice(self) -> list[list[str]]:
        """The recommendations of each run the job held (its own, or its parts')."""
        return []

    def highlights(self) -> list[str]:
        """The few figures the monitor's terminal prints when the job ends."""
        return []


class CollectSummary(JobSummary):
    """`collect`: a few synthetic conversations, and the metrics of the window they joined."""

    conversations: int = 0  # held by this job
    window_conversations: int = 0
    success_rate: Number | None = None  # of the window; None while it holds no conversation
    error_rate: Number | None = None
    p95_s: Number | None = None

    def highlights(self) -> list[str]:
        out = [] if self.success_rate is None else [f"success {100 * self.success_rate:.0f}%"]
        return out + ([] if self.p95_s is None else [f"p95 {self.p95_s:.2f} s"])


class ComponentCheck(Document):
    up: bool
    detail: str | None = None


class HealthSummary(RootModel[dict[str, ComponentCheck]]):
    """`health`: each component's (and simulated-user LLM provider's) check, by name."""

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_unset=True)

    def advice(self) -> list[list[str]]:
        return []

    def highlights(self) -> list[str]:
        return [f"{name} {'up' if check.up else 'DOWN'}" for name, check in self.root.items()]


class RunJobSummary(JobSummary):
    """A job that ran a load test or the pipeline: its verdict."""

    conversations: int = 0
    success_rate: Number | None = None
    p95_ms: Number | None = None  # turn latency
    grade: str | None = None
    health: str | None = None
    recommendations: list[str] | None = None

    def advice(self) -> list[list[str]]:
        return [] if self.recommendations is None else [self.recommendations]

    def highlights(self) -> list[str]:
        out = [] if self.success_rate is None else [f"success {100 * self.success_rate:.0f}%"]
        if self.p95_ms is not None:
            out.append(f"p95 {self.p95_ms / 1000:.2f} s")
        return out + ([f"grade {self.grade}"] if self.grade else [])


class StressSummary(RunJobSummary):
    """`stress` (and the daily job's stress part): a load test of `users` for `duration_s`."""

    users: int | None = None
    duration_s: Number | None = None
    profile: str | None = None
    complete: bool | None = None  # False: stopped early (the grade is capped)
    judge_pass_rate: Number | None = None  # when the monitor judges: of the run's judged conversations

    def highlights(self) -> list[str]:
        judged = [] if self.judge_pass_rate is None else [f"judge {100 * self.judge_pass_rate:.0f}%"]
        return super().highlights() + judged


class PipelineSummary(RunJobSummary):
    """`pipeline` (and the daily job's pipeline part): the scenario suite, graded."""

    pipeline_id: str | None = None
    scenarios: dict[str, str] = {}  # scenario -> grade


class DailySummary(JobSummary):
    """`daily`: the comprehensive test's parts and the daily report written."""

    report: str | None = None  # the daily report's JSON file
    pipeline: PipelineSummary | None = None
    stress: StressSummary | None = None

    def advice(self) -> list[list[str]]:
        return [lines for part in (self.pipeline, self.stress) if part for lines in part.advice()]

    def highlights(self) -> list[str]:
        return [f"report {self.report}"] if self.report else []


class JobFailure(JobSummary):
    """What the monitor tells its listeners of a job that failed (the store keeps it as the job's error)."""

    error: str


Summary = CollectSummary | HealthSummary | StressSummary | PipelineSummary | DailySummary | JobSummary

SUMMARIES: dict[str, type[CollectSummary | HealthSummary | RunJobSummary | DailySummary]] = {
    "collect": CollectSummary,
    "health": HealthSummary,
    "stress": StressSummary,
    "pipeline": PipelineSummary,
    "daily": DailySummary,
}


def read_summary(job: str, data: Mapping[str, Any] | None) -> Summary | None:
    """A stored summary as the model of its job; a plain JobSummary when it does not fit one."""
    if data is None:
        return None
    model = SUMMARIES.get(job)
    if model is not None:
        try:
            return model.model_validate(data)
        except ValidationError:
            pass
    return JobSummary.model_validate(data)


def summary_json(summary: Summary | Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A summary (or the JSON object of one) as the store keeps it."""
    if summary is None or isinstance(summary, Mapping):
        return None if summary is None else dict(summary)
    return summary.to_json()


__all__ = [
    "SUMMARIES",
    "CollectSummary",
    "ComponentCheck",
    "DailySummary",
    "HealthSummary",
    "JobFailure",
    "JobSummary",
    "PipelineSummary",
    "RunJobSummary",
    "StressSummary",
    "Summary",
    "read_summary",
    "summary_json",
]
