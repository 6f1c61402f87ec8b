"""What the judge is asked, and the schema its answer must match (generated from the rubric).

The request is one system message (the instructions, marked with JUDGE_MARKER) and one user message
with three tagged sections: the rubric as JSON, the reference facts (when the rubric has them) and the
transcript as JSON. The answer is `{"criteria": {<id>: {"reason": ..., "score": ...}}}`, validated
with a pydantic model built from the rubric: every criterion, a score on its scale, a reason.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from convoload.errors import ConvoloadError
from convoload.judge.rubric import Rubric
from convoload.model import ConversationRecord

# Lets a provider (the bundled local one) recognise a judge request without guessing.
JUDGE_MARKER = "[convoload-judge v1]"
SCHEMA_NAME = "convoload_judgement"

_INSTRUCTIONS = f"""{JUDGE_MARKER}
You are a strict, fair quality reviewer of customer-service conversations held over WhatsApp between
a company's virtual agent and a customer. Score the AGENT (never the customer) on each criterion of
the rubric, using only the transcript and the reference facts given.
- Score every criterion on its own scale (pass_fail: 1 = pass, 0 = fail).
- Give for each criterion a short reason that quotes or points at the turn that decided it.
- A price, listing or product the reference facts contradict or do not contain counts as invented.
- Answer with JSON only, exactly in this shape (no prose, no code fence):
{{"criteria": {{"<criterion id>": {{"reason": "<one or two sentences>", "score": <integer>}}}}}}"""


class _Forbid(BaseModel):
    model_config = ConfigDict(extra="forbid")


def verdict_model(rubric: Rubric) -> type[BaseModel]:
    """The pydantic model of a valid answer for this rubric."""
    fields: dict[str, Any] = {}
    for c in rubric.criteria:
        score_model = create_model(
            f"Score_{c.id}",
            __base__=_Forbid,
            reason=(str, Field(min_length=1, max_length=2000)),
            score=(int, Field(ge=c.scale.min, le=c.scale.max)),
        )
        fields[c.id] = (score_model, ...)
    criteria = create_model("Criteria", __base__=_Forbid, **fields)
    return create_model("JudgeVerdict", __base__=_Forbid, criteria=(criteria, ...))


def response_format(rubric: Rubric, mode: str) -> dict[str, Any] | None:
    """The `response_format` parameter for `mode` (json_schema, json_object, or prompt: none)."""
    if mode == "json_schema":
        schema = verdict_model(rubric).model_json_schema()
        return {"type": "json_schema", "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": schema}}
    if mode == "json_object":
        return {"type": "json_object"}
    return None


def rubric_document(rubric: Rubric) -> dict[str, Any]:
    """The rubric as the judge reads it."""
    return {
        "name": rubric.name,
        "description": rubric.description,
        "criteria": [
            {
                "id": c.id,
                "description": c.description,
                "scale": c.scale.label,
                "min": c.scale.min,
                "max": c.scale.max,
                "pass_at": c.threshold,
            }
            for c in rubric.criteria
        ],
    }


def transcript_document(record: ConversationRecord) -> list[dict[str, Any]]:
    """The conversation, message by message: customer, agent, or a failed turn (error)."""
    lines: list[dict[str, Any]] = []
    for turn in record.turns:
        if turn.user_text:
            lines.append({"turn": turn.iteration, "role": "customer", "text": turn.user_text})
        if turn.reply_text is not None:
            lines.append({"turn": turn.iteration, "role": "agent", "text": turn.reply_text})
        if turn.error is not None:
            lines.append({"turn": turn.iteration, "role": "error", "text": turn.error.kind.value})
    return lines


def judge_messages(rubric: Rubric, record: ConversationRecord, reference: str | None) -> list[dict[str, str]]:
    dumps = json.dumps
    parts = [
        f"<rubric>\n{dumps(rubric_document(rubric), ensure_ascii=False)}\n</rubric>",
        f"<reference>\n{reference.strip() if reference else '(none)'}\n</reference>",
        f"<transcript>\n{dumps(transcript_document(record), ensure_ascii=False)}\n</transcript>",
    ]
    return [{"role": "system", "content": _INSTRUCTIONS}, {"role": "user", "content": "\n\n".join(parts)}]


def correction(answer: str, problem: str) -> list[dict[str, str]]:
    """What follows an invalid answer when the judge is asked again: the answer, and what is wrong."""
    return [
        {"role": "assistant", "content": answer[:4000]},
        {
            "role": "user",
            "content": f"That answer is invalid ({problem}). Answer again with the JSON object only, "
            "scoring every criterion of the rubric on its scale, each with a reason.",
        },
    ]


_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


class InvalidVerdict(ConvoloadError, ValueError):
    """The judge's answer is not JSON, or does not match the rubric's schema (the judge asks again,
    then counts a judge error: it never escapes the Judge)."""


def parse_verdict(
    text: str, rubric: Rubric, model: type[BaseModel] | None = None
) -> dict[str, tuple[int, str]]:
    """criterion id -> (score, reason), from the judge's answer; InvalidVerdict says what is wrong.

    `model`: the rubric's `verdict_model`, when the caller keeps it (it is built per rubric)."""
    fenced = _FENCE.match(text)
    body = fenced.group(1) if fenced else text.strip()
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise InvalidVerdict(f"not JSON ({exc.msg} at character {exc.pos})") from None
    try:
        verdict = (model or verdict_model(rubric)).model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise InvalidVerdict(f"{where}: {first.get('msg', 'invalid')}") from None
    criteria = verdict.criteria  # type: ignore[attr-defined]
    return {c.id: (getattr(criteria, c.id).score, getattr(criteria, c.id).reason) for c in rubric.criteria}
