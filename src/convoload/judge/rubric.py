"""Rubrics: what the judge scores a conversation on, read from YAML and validated up front.

    name: realestate
    description: the bundled real-estate assistant
    reference: my_pack.facts:catalog_facts      # optional: facts the judge checks replies against
    criteria:
      - id: goal_resolved
        description: the customer got what they came for (a visit booked)
        scale: 1-5                              # or pass_fail
        pass_at: 4                              # default: the middle of the scale (1-5: 3)
        weight: 2                               # in the weighted mean (default 1)
    pass_rule:
      mode: all                                 # all: every criterion at or above its pass_at
      # mode: weighted_mean, threshold: 0.75    # weighted mean of the normalised scores (0..1)
      must_pass: [goal_resolved]                # with weighted_mean: these must pass besides

Packs ship rubrics under the `convoload.rubrics` entry-point group (a `ShippedRubric`); a config
names one by its registered name, or gives a file path.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from convoload import plugins
from convoload.errors import ConfigError, pydantic_error_to_config_error
from convoload.safeyaml import load_yaml_mapping, parse_yaml

RUBRICS_GROUP = "convoload.rubrics"
_ID = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
_RANGE = re.compile(r"^\s*(-?\d+)\s*-\s*(-?\d+)\s*$")


class Scale(BaseModel):
    """Whole scores from `min` to `max`; pass/fail is 0..1."""

    model_config = ConfigDict(frozen=True)

    min: int
    max: int
    pass_fail: bool = False

    @property
    def label(self) -> str:
        return "pass_fail" if self.pass_fail else f"{self.min}-{self.max}"

    def normalise(self, score: int) -> float:
        return (score - self.min) / (self.max - self.min)


def _scale(value: Any) -> Scale:
    if isinstance(value, Scale):
        return value
    if value == "pass_fail":
        return Scale(min=0, max=1, pass_fail=True)
    match = _RANGE.match(str(value)) if isinstance(value, str | int) else None
    if match is None:
        raise ValueError(f"{value!r} is not a scale: write pass_fail or a range such as 1-5")
    low, high = int(match.group(1)), int(match.group(2))
    if high <= low or high - low > 100:
        raise ValueError(f"{value!r}: the range must go up, by at most 100 steps (e.g. 1-5)")
    return Scale(min=low, max=high)


class Criterion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="lower_snake_case, unique in the rubric")
    description: str = Field(min_length=3, description="what the judge checks, in words")
    scale: Scale = Field(description="pass_fail or a range such as 1-5")
    pass_at: int | None = Field(default=None, description="lowest passing score (default: mid-scale)")
    weight: float = Field(default=1.0, gt=0, le=100)
    quality: Literal["coherence", "user_experience"] | None = Field(
        default=None,
        description="the pipeline's quality metric this criterion also caps (its pass rate, at most)",
    )

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"{value!r} is not lower_snake_case (a-z, 0-9, _; up to 48 characters)")
        return value

    @field_validator("scale", mode="before")
    @classmethod
    def _parse_scale(cls, value: Any) -> Scale:
        return _scale(value)

    @model_validator(mode="after")
    def _threshold(self) -> Criterion:
        if self.pass_at is None:
            middle = 1 if self.scale.pass_fail else math.ceil((self.scale.min + self.scale.max) / 2)
            object.__setattr__(self, "pass_at", middle)
        elif not self.scale.min <= self.pass_at <= self.scale.max:
            raise ValueError(f"pass_at {self.pass_at} is outside the scale {self.scale.label}")
        return self

    @property
    def threshold(self) -> int:
        assert self.pass_at is not None  # set by the validator
        return self.pass_at

    def passes(self, score: int) -> bool:
        return score >= self.threshold


class PassRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["all", "weighted_mean"] = "all"
    threshold: float | None = Field(default=None, ge=0, le=1, description="weighted_mean: lowest mean")
    must_pass: list[str] = Field(default_factory=list, description="criteria that must pass in any mode")

    @model_validator(mode="after")
    def _check(self) -> PassRule:
        if self.mode == "weighted_mean" and self.threshold is None:
            raise ValueError("mode weighted_mean needs a threshold between 0 and 1")
        if self.mode == "all" and self.threshold is not None:
            raise ValueError("threshold applies to mode weighted_mean only")
        return self


class Rubric(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    description: str = ""
    reference: str | None = Field(
        default=None, description="module:function(record) -> text of facts the judge checks against"
    )
    criteria: list[Criterion] = Field(min_length=1, max_length=30)
    pass_rule: PassRule = Field(default_factory=PassRule)

    @model_validator(mode="after")
    def _ids(self) -> Rubric:
        seen: set[str] = set()
        for i, criterion in enumerate(self.criteria):
            if criterion.id in seen:
                raise ValueError(f"criteria[{i}].id {criterion.id!r} is used twice")
            seen.add(criterion.id)
        for name in self.pass_rule.must_pass:
            if name not in seen:
                raise ValueError(f"pass_rule.must_pass names {name!r}, which is no criterion")
        if self.reference is not None and ":" not in self.reference:
            raise ValueError(f"reference {self.reference!r} is not module:function")
        return self

    def weighted_score(self, scores: dict[str, int]) -> float:
        """The weighted mean of the normalised scores, 0..1."""
        total = sum(c.weight for c in self.criteria)
        return sum(c.weight * c.scale.normalise(scores[c.id]) for c in self.criteria) / total

    def passes(self, scores: dict[str, int]) -> bool:
        """The pass rule over one conversation's scores (one per criterion)."""
        by_id = {c.id: c for c in self.criteria}
        if not all(by_id[name].passes(scores[name]) for name in self.pass_rule.must_pass):
            return False
        if self.pass_rule.mode == "all":
            return all(c.passes(scores[c.id]) for c in self.criteria)
        assert self.pass_rule.threshold is not None
        return self.weighted_score(scores) >= self.pass_rule.threshold - 1e-9


@dataclass(frozen=True, slots=True)
class ShippedRubric:
    """What a pack registers under `convoload.rubrics`: a rubric file and, optionally, a labelled set."""

    rubric: Traversable | Path
    labels: Traversable | Path | None = None  # JSON Lines of LabelledConversation, for `judge calibrate`


def _check_shipped(obj: Any) -> ShippedRubric:
    if not isinstance(obj, ShippedRubric):
        raise ValueError(f"is a {type(obj).__name__}, not a convoload.judge.rubric.ShippedRubric")
    return obj


RUBRICS: plugins.Registry[ShippedRubric] = plugins.Registry(RUBRICS_GROUP, "rubric", _check_shipped)


def parse_rubric(data: Any, source: str) -> Rubric:
    """A validated rubric; a ConfigError naming `source` and the first bad field otherwise."""
    if not isinstance(data, dict):
        raise ConfigError(source, "", f"expected a mapping at the top level, found {type(data).__name__}")
    try:
        return Rubric.model_validate(data)
    except ValidationError as exc:
        raise pydantic_error_to_config_error(source, exc) from None


def load_rubric_file(path: Path) -> Rubric:
    return parse_rubric(load_yaml_mapping(path), str(path))


def load_rubric(spec: str, *, base_dir: Path | None = None, source: str = "judge.rubric") -> Rubric:
    """A rubric by registered name (`RUBRICS`) or by YAML path (relative to `base_dir`)."""
    if spec.endswith((".yaml", ".yml")) or "/" in spec or "\\" in spec:
        path = Path(spec)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if not path.is_file():
            raise ConfigError(source, "", f"no rubric file {str(path)!r}")
        return load_rubric_file(path)
    try:
        shipped = RUBRICS.get(spec)
    except KeyError as exc:
        raise ConfigError(source, "", exc.args[0]) from None
    text = shipped.rubric.read_text(encoding="utf-8")
    return parse_rubric(parse_yaml(text, str(shipped.rubric)), str(shipped.rubric))


def shipped_labels(name: str, source: str = "--labels") -> Traversable | Path:
    """The labelled set a pack ships with its rubric `name`."""
    try:
        shipped = RUBRICS.get(name)
    except KeyError as exc:
        raise ConfigError(source, "", exc.args[0]) from None
    if shipped.labels is None:
        raise ConfigError(source, "", f"rubric {name!r} ships no labelled set: give --labels PATH")
    return shipped.labels
