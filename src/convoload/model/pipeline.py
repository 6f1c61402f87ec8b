"""PipelineResults: a test pipeline's results (`real_test_results.json`) as typed models.

As for RunReport, the file stays the contract: `PipelineResults.from_document(doc).to_document() == doc`
for every document the pipeline writes, down to the order of the keys, and unknown keys are kept. The
one place where the models and the file differ in shape is a scenario's domain checks: the file holds
each check's section as a top-level key of the scenario, between "integration" and "health" (the
layout every earlier pipeline wrote); the model gathers them under `ScenarioResult.checks`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from convoload.model.document import _KEYS, Document, Number
from convoload.model.report import Distribution, HookFindings

RESULTS_FILE = "real_test_results.json"


class CheckSummary(Document):
    """What one domain check found in a scenario: items checked, the wrong ones (each with the fields
    of its pack's Mismatch), and the error when the check itself failed."""

    checked: int = 0
    mismatches: list[dict[str, Any]] = Field(default_factory=list)
    error: str | None = None


class PassK(Document):
    """pass^k: the share of conversation slots that succeeded in every one of the k repetitions."""

    k: int
    value: Number


class ScenarioJudgement(Document):
    """The conversation judge's verdicts on a scenario's conversations (only when it was judged)."""

    rubrics: list[str] = Field(default_factory=list)
    conversations: int = 0
    judged: int = 0
    judge_errors: int = 0  # conversations the judge could not score
    passed: int = 0
    pass_rate: Number = 0.0  # of the judged conversations: the scenario's `judge` metric
    mean_score: Number | None = None  # weighted normalised score, 0..1
    criteria: dict[str, Number] = Field(default_factory=dict)  # criterion id -> pass rate
    cost_usd: Number = 0.0  # judge cost, apart from the simulated users'


class ScenarioResult(Document):
    """One scenario's results: success, latency, quality metrics, grade and what to do next."""

    name: str
    description: str = ""
    conversations: int = 0
    successful: int = 0
    # Conversations the simulated user broke (outcome simulator_error): outside the success rate and
    # pass^k; only when there were any.
    simulator_errors: int = 0
    success_rate: Number = 0.0
    latency_ms: Distribution = Field(default_factory=Distribution)  # per turn
    per_agent: dict[str, Distribution] = Field(default_factory=dict)
    integration: dict[str, Number] = Field(default_factory=dict)  # quality metric -> share (0..1)
    checks: dict[str, CheckSummary] = Field(default_factory=dict)  # in the file: top-level keys
    health: str
    grade: str
    error_rate: Number = 0.0
    recommendations: list[str] = Field(default_factory=list)
    findings: dict[str, HookFindings] = Field(default_factory=dict)
    runs: list[str] = Field(default_factory=list)  # the folders of its repetitions' runs
    pass_k: PassK | None = None  # only with more than one repetition
    complete: bool | None = None  # False: cut short (grade capped)
    judgement: ScenarioJudgement | None = None  # only when the scenario was judged

    @model_validator(mode="before")
    @classmethod
    def _gather_checks(cls, data: Any) -> Any:
        # A check's section is the top-level key named like one of the scenario's quality metrics (a
        # check's name is reserved from every other key of a scenario's results).
        if not isinstance(data, Mapping) or "checks" in data:
            return data
        metrics = data.get("integration")
        if not isinstance(metrics, Mapping):
            return data
        gathered: dict[str, Any] = {}
        checks: dict[str, Any] = {}
        for key, value in data.items():
            if key in metrics and isinstance(value, Mapping):
                gathered.setdefault("checks", checks)
                checks[key] = value
            else:
                gathered[key] = value
        return gathered

    @model_serializer(mode="wrap")
    def _in_key_order(self, handler: SerializerFunctionWrapHandler) -> Any:
        # Overrides Document's: the checks go back to the top level, where they were read (or, for
        # results built by the runner, where `checks` was given), and the other keys in read order.
        out = handler(self)
        if not isinstance(out, dict):
            return out
        checks = out.get("checks")
        if isinstance(checks, dict):
            spread: dict[str, Any] = {}
            for key, value in out.items():
                if key == "checks":
                    spread.update(checks)
                else:
                    spread[key] = value
            out = spread
        keys = self.__dict__.get(_KEYS)
        if keys is None:
            return out
        order = [name for key in keys for name in (self.checks if key == "checks" else (key,))]
        ordered = {key: out[key] for key in order if key in out}
        ordered.update(out)
        return ordered


class PipelineOverall(Document):
    """The whole pipeline: every scenario's conversations together, and its metrics averaged."""

    conversations: int = 0
    successful: int = 0
    success_rate: Number = 0.0
    latency_ms: Distribution = Field(default_factory=Distribution)
    integration: dict[str, Number] = Field(default_factory=dict)
    health: str
    grade: str
    system_healthy_after: bool = True
    recommendations: list[str] = Field(default_factory=list)  # each "scenario: line"
    complete: bool | None = None  # False: stopped, a scenario cut short or not started


class PipelineSystem(Document):
    """Where the scenarios ran: the URL they talked to, and the data API the checks read, if any."""

    assistant: str = ""
    catalog: str | None = None


class PipelineResults(Document):
    """A whole pipeline's results, as `real_test_results.json` holds them."""

    pipeline_id: str
    timestamp: str | None = None
    repeat: int = 1
    system: PipelineSystem = Field(default_factory=PipelineSystem)
    scenarios: list[ScenarioResult] = Field(default_factory=list)
    overall: PipelineOverall
    stopped_by: str | None = None  # the signal that stopped the pipeline
    skipped_scenarios: list[str] | None = None  # not started (the pipeline was stopped first)
    # The pipeline's folder (results, CSV and every run), when known; not in the file it is in.
    folder: Path | None = Field(default=None, exclude=True)

    @classmethod
    def from_document(cls, document: Mapping[str, Any], *, folder: Path | None = None) -> PipelineResults:
        return cls.model_validate({**document, "folder": folder} if folder is not None else document)

    @classmethod
    def of(cls, results: PipelineResults | Mapping[str, Any]) -> PipelineResults:
        """Results as they are, or read from their document: for functions that take either."""
        return results if isinstance(results, PipelineResults) else cls.from_document(results)

    @classmethod
    def read(cls, path: str | Path) -> PipelineResults:
        """A pipeline's folder (its real_test_results.json) or the file itself."""
        path = Path(path)
        if path.is_dir():
            path = path / RESULTS_FILE
        return cls.from_document(json.loads(path.read_text(encoding="utf-8")), folder=path.parent)

    @property
    def complete(self) -> bool:
        return self.overall.complete is not False

    def scenario(self, name: str) -> ScenarioResult:
        """The results of the scenario called `name` (KeyError when none is)."""
        for result in self.scenarios:
            if result.name == name:
                return result
        raise KeyError(name)


__all__ = [
    "RESULTS_FILE",
    "CheckSummary",
    "PassK",
    "PipelineOverall",
    "PipelineResults",
    "PipelineSystem",
    "ScenarioJudgement",
    "ScenarioResult",
]
