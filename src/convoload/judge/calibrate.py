"""`convoload judge calibrate`: how far the configured judge agrees with human labels.

A labelled set is JSON Lines, one `LabelledConversation` a line: a conversation (the journal's
document), the rubric it is judged by, and a person's score for each criterion. The judge scores
every conversation; agreement is counted on pass/fail per criterion (the score against the
criterion's `pass_at`), on the rubric's overall pass, and on exact scores, with Cohen's kappa
(agreement beyond what chance gives, from 1 perfect down to 0 chance and below).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from gevent.pool import Pool
from pydantic import BaseModel, Field, ValidationError

from convoload.errors import ConfigError, pydantic_error_to_config_error
from convoload.judge.judge import Judge
from convoload.judge.rubric import Rubric
from convoload.judge.setup import RubricChooser
from convoload.model import ConversationRecord
from convoload.model.judgement import Judgement, JudgeUsage


class LabelledConversation(BaseModel):
    id: str = Field(min_length=1)
    rubric: str = Field(min_length=1, description="the rubric (shipped name or file) it is judged by")
    note: str = Field(default="", description="what is wrong with it, if anything, for people")
    labels: dict[str, int] = Field(description="criterion id -> the person's score")
    conversation: dict[str, Any] = Field(description="the conversation as journal.jsonl holds it")

    def record(self) -> ConversationRecord:
        return ConversationRecord.from_document(self.conversation)


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float | None:
    """Cohen's kappa of two raters over the same items: (p_o - p_e) / (1 - p_e).

    p_o is the share of items they agree on, p_e the agreement expected by chance from each rater's
    own category frequencies. None when chance alone agrees fully (both always say the same one
    category), where kappa is undefined.
    """
    if len(a) != len(b):
        raise ValueError("both raters must rate the same items")
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    count_a, count_b = Counter(a), Counter(b)
    expected = sum(count_a[c] * count_b[c] for c in count_a.keys() | count_b.keys()) / (n * n)
    if expected >= 1.0:
        return None
    return (observed - expected) / (1 - expected)


@dataclass(slots=True)
class Agreement:
    """One comparison of judge and labels: how many items, the share agreed, kappa."""

    name: str
    items: int = 0
    agreed: int = 0
    kappa: float | None = None
    exact: float | None = None  # share of identical scores (criteria only)

    @property
    def rate(self) -> float:
        return self.agreed / self.items if self.items else 0.0


@dataclass(slots=True)
class Calibration:
    judge: str
    labelled: int  # conversations in the set
    judged: int  # ... the judge gave a verdict on
    judge_errors: list[str] = field(default_factory=list)  # ids the judge failed, with why
    criteria: list[Agreement] = field(default_factory=list)
    overall: Agreement = field(default_factory=lambda: Agreement("overall pass"))
    pooled: Agreement = field(default_factory=lambda: Agreement("all criteria (pooled)"))
    usage: JudgeUsage = field(default_factory=JudgeUsage)
    disagreements: list[str] = field(default_factory=list)  # "id criterion: judge X, label Y"


def read_labelled(source: Path | Traversable) -> list[LabelledConversation]:
    """A labelled set; a line that is not a LabelledConversation is a ConfigError naming its line."""
    name = str(source)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(name, "", f"cannot read: {exc.strerror or exc}") from None
    items = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(LabelledConversation.model_validate(json.loads(line)))
        except ValueError as exc:
            if isinstance(exc, ValidationError):
                raise pydantic_error_to_config_error(f"{name}:{number}", exc) from None
            raise ConfigError(f"{name}:{number}", "", f"not JSON: {exc}") from None
        try:
            items[-1].record()
        except (KeyError, TypeError, ValueError) as exc:
            where = f"{name}:{number}"
            raise ConfigError(where, "conversation", f"not a journal document: {exc!r}") from None
    if not items:
        raise ConfigError(name, "", "the labelled set is empty")
    return items


def check_labels(item: LabelledConversation, rubric: Rubric, where: str) -> None:
    for c in rubric.criteria:
        if c.id not in item.labels:
            raise ConfigError(where, f"labels.{c.id}", f"no label for criterion {c.id!r} of {rubric.name}")
        score = item.labels[c.id]
        if not c.scale.min <= score <= c.scale.max:
            raise ConfigError(where, f"labels.{c.id}", f"{score} is outside the scale {c.scale.label}")
    unknown = set(item.labels) - {c.id for c in rubric.criteria}
    if unknown:
        raise ConfigError(where, f"labels.{sorted(unknown)[0]}", f"no such criterion in {rubric.name}")


@dataclass(frozen=True, slots=True)
class Judged:
    """One labelled conversation with the judge's verdict on it."""

    item: LabelledConversation
    rubric: Rubric
    judgement: Judgement


def check_labelled(items: Iterable[LabelledConversation], chooser: RubricChooser) -> dict[str, Rubric]:
    """Each labelled conversation's rubric, by id, once its labels are checked against it (ConfigError)."""
    rubrics = {}
    for item in items:
        where = f"labelled conversation {item.id}"
        rubrics[item.id] = chooser.load(item.rubric, where)
        check_labels(item, rubrics[item.id], where)
    return rubrics


def judge_labelled(
    items: Iterable[LabelledConversation], judge: Judge, chooser: RubricChooser, *, concurrency: int = 4
) -> list[Judged]:
    """The judge's verdict on every labelled conversation (labels checked against the rubric first)."""
    items = list(items)
    rubrics = check_labelled(items, chooser)

    def one(item: LabelledConversation) -> Judged:
        rubric = rubrics[item.id]
        return Judged(item, rubric, judge.judge(chooser.task_with(item.record(), rubric)))

    return list(Pool(max(1, concurrency)).imap(one, items))


def agreement(rows: Iterable[Judged], judge: str) -> Calibration:
    """How far the verdicts agree with the labels: per criterion, overall pass, pooled, with kappa."""
    rows = list(rows)
    result = Calibration(judge=judge, labelled=len(rows), judged=0)
    per_criterion: dict[str, list[tuple[int, int, bool, bool]]] = {}
    overall: list[tuple[bool, bool]] = []
    for row in rows:
        item, rubric, judgement = row.item, row.rubric, row.judgement
        result.usage.add(judgement.usage)
        if judgement.status != "judged":
            result.judge_errors.append(f"{item.id}: {judgement.error}")
            continue
        result.judged += 1
        for c in rubric.criteria:
            scored = judgement.criterion(c.id)
            assert scored is not None  # a judged verdict scores every criterion
            label = item.labels[c.id]
            per_criterion.setdefault(c.id, []).append((scored.score, label, scored.passed, c.passes(label)))
            if scored.passed != c.passes(label):
                result.disagreements.append(
                    f"{item.id} {c.id}: judge {scored.score} ({scored.reason}), label {label}"
                )
        overall.append((bool(judgement.passed), rubric.passes(item.labels)))
    pooled_judge: list[bool] = []
    pooled_label: list[bool] = []
    for cid, found in per_criterion.items():
        judge_pass = [r[2] for r in found]
        label_pass = [r[3] for r in found]
        pooled_judge += judge_pass
        pooled_label += label_pass
        result.criteria.append(
            Agreement(
                cid,
                items=len(found),
                agreed=sum(j == h for j, h in zip(judge_pass, label_pass, strict=True)),
                kappa=cohen_kappa(judge_pass, label_pass),
                exact=sum(r[0] == r[1] for r in found) / len(found),
            )
        )
    result.overall = Agreement(
        "overall pass",
        items=len(overall),
        agreed=sum(j == h for j, h in overall),
        kappa=cohen_kappa([j for j, _ in overall], [h for _, h in overall]),
    )
    result.pooled = Agreement(
        "all criteria (pooled)",
        items=len(pooled_judge),
        agreed=sum(j == h for j, h in zip(pooled_judge, pooled_label, strict=True)),
        kappa=cohen_kappa(pooled_judge, pooled_label),
    )
    return result
