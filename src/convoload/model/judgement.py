"""What the conversation judge says about one conversation, and about a whole run.

`Judgement` is one line of a run's `judgements.jsonl`; `JudgementSummary` is its `judgement.json`.
Scores are on each criterion's own scale; `normalised` puts them on 0..1 so that criteria of
different scales (1-5, pass/fail) can be averaged, weighted and compared across runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, Field

from convoload.model.records import Finding, utc_now

JudgeStatus = Literal["judged", "judge_error"]


class CriterionScore(BaseModel):
    """One criterion of the rubric, as the judge scored it."""

    id: str
    score: int  # on the criterion's scale (pass/fail: 1 pass, 0 fail)
    normalised: float  # (score - min) / (max - min), in 0..1
    passed: bool  # score >= the criterion's pass_at
    reason: str
    # The pipeline quality metric the rubric says this criterion speaks to (coherence,
    # user_experience), if any.
    quality: str | None = None


class JudgeUsage(BaseModel):
    """Tokens and dollars the judge spent: judge cost, never added to the simulated users' cost."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0
    llm_calls: int = 0  # calls a provider answered
    replayed_calls: int = 0  # calls answered from the record/replay cache (cost nothing)
    invalid_outputs: int = 0  # answers that did not match the rubric's schema (asked again)

    def add(self, other: JudgeUsage) -> None:
        for name in JudgeUsage.model_fields:
            setattr(self, name, getattr(self, name) + getattr(other, name))


class Judgement(BaseModel):
    """The judge's verdict on one conversation (status `judge_error`: no verdict, `error` says why)."""

    run_id: str
    session_id: str
    user_id: int
    persona: str
    rubric: str
    status: JudgeStatus
    passed: bool | None = None  # the rubric's pass rule; None when the judge failed
    score: float | None = None  # weighted mean of the normalised criterion scores, 0..1
    criteria: list[CriterionScore] = Field(default_factory=list)
    judge: str | None = None  # provider/model that answered (or the cache's recording of it)
    error: str | None = None
    usage: JudgeUsage = Field(default_factory=JudgeUsage)
    findings: list[Finding] = Field(default_factory=list)  # what on_judgement hooks reported
    judged_at: str = Field(default_factory=utc_now)

    def criterion(self, criterion_id: str) -> CriterionScore | None:
        return next((c for c in self.criteria if c.id == criterion_id), None)


class CriterionSummary(BaseModel):
    id: str
    judged: int = 0
    passed: int = 0
    pass_rate: float = 0.0
    mean_score: float | None = None  # on the criterion's scale
    mean_normalised: float | None = None


class GroupSummary(BaseModel):
    """Pass rate and mean score of one group of conversations (a persona)."""

    name: str
    conversations: int = 0
    judged: int = 0
    judge_errors: int = 0
    passed: int = 0
    pass_rate: float = 0.0
    mean_score: float | None = None
    criteria: dict[str, float] = Field(default_factory=dict)  # criterion id -> pass rate


class JudgementSummary(BaseModel):
    """A run's judgements, summed up: `judgement.json`."""

    run_id: str
    rubrics: list[str] = Field(default_factory=list)
    judges: list[str] = Field(default_factory=list)  # provider/model labels that answered
    conversations: int = 0
    judged: int = 0
    judge_errors: int = 0
    passed: int = 0
    pass_rate: float = 0.0  # of the judged conversations
    mean_score: float | None = None
    criteria: list[CriterionSummary] = Field(default_factory=list)
    personas: list[GroupSummary] = Field(default_factory=list)
    usage: JudgeUsage = Field(default_factory=JudgeUsage)  # the judge cost, apart from the users'

    @classmethod
    def of(cls, run_id: str, judgements: Iterable[Judgement]) -> JudgementSummary:
        summary = cls(run_id=run_id)
        criteria: dict[str, list[CriterionScore]] = {}
        personas: dict[str, list[Judgement]] = {}
        scores: list[float] = []
        for j in judgements:
            summary.conversations += 1
            summary.usage.add(j.usage)
            personas.setdefault(j.persona, []).append(j)
            if j.rubric not in summary.rubrics:
                summary.rubrics.append(j.rubric)
            if j.judge and j.judge not in summary.judges:
                summary.judges.append(j.judge)
            if j.status != "judged":
                summary.judge_errors += 1
                continue
            summary.judged += 1
            summary.passed += bool(j.passed)
            if j.score is not None:
                scores.append(j.score)
            for c in j.criteria:
                criteria.setdefault(c.id, []).append(c)
        summary.pass_rate = _rate(summary.passed, summary.judged)
        summary.mean_score = _mean(scores)
        summary.criteria = [_criterion(cid, found) for cid, found in criteria.items()]
        summary.personas = [_group(name, group) for name, group in sorted(personas.items())]
        return summary


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def _criterion(criterion_id: str, scores: list[CriterionScore]) -> CriterionSummary:
    passed = sum(c.passed for c in scores)
    return CriterionSummary(
        id=criterion_id,
        judged=len(scores),
        passed=passed,
        pass_rate=_rate(passed, len(scores)),
        mean_score=_mean([float(c.score) for c in scores]),
        mean_normalised=_mean([c.normalised for c in scores]),
    )


def _group(name: str, judgements: list[Judgement]) -> GroupSummary:
    judged = [j for j in judgements if j.status == "judged"]
    passed = sum(bool(j.passed) for j in judged)
    by_criterion: dict[str, list[bool]] = {}
    for j in judged:
        for c in j.criteria:
            by_criterion.setdefault(c.id, []).append(c.passed)
    return GroupSummary(
        name=name,
        conversations=len(judgements),
        judged=len(judged),
        judge_errors=len(judgements) - len(judged),
        passed=passed,
        pass_rate=_rate(passed, len(judged)),
        mean_score=_mean([j.score for j in judged if j.score is not None]),
        criteria={cid: _rate(sum(v), len(v)) for cid, v in by_criterion.items()},
    )
