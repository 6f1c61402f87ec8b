"""The local provider as a deterministic conversation judge (no key, no network, same answer every time).

A judge request is recognised by convoload's judge marker in its system message (the rubric's JSON
schema may come as `response_format` too, or not at all). Its user message holds the rubric, the
reference facts and the transcript in tagged sections (convoload.judge.prompt); each criterion is
scored by the check its id or description names (goal, catalog facts, personal data, tone,
language; see judge_checks), and the answer is the JSON verdict the schema asks for, in an ordinary
chat completion. A model the script names (canned replies, scripted behaviours) is never judged
here, so tests can still make the judge answer badly.
"""

from __future__ import annotations

import json
import re
from typing import Any

from convoload.judge.prompt import JUDGE_MARKER
from convoload_demo.llmserver import judge_checks as checks
from convoload_demo.llmserver.judge_checks import Check, Line
from convoload_demo.llmserver.replies import Reply
from convoload_demo.llmserver.script import Script
from convoload_demo.llmserver.tokens import content_text
from convoload_demo.llmserver.validation import ChatRequest

_SECTION = re.compile(r"<(rubric|reference|transcript)>\n?(.*?)\n?</\1>", re.DOTALL)

# Which check scores a criterion: the first whose words appear in its id or description.
_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("facts", ("catalog", "price", "listing", "invent", "fact", "catálogo", "preço")),
    ("personal_data", ("personal", "cpf", "privacy", "dados pessoais")),
    ("language", ("language", "idioma", "língua")),
    ("tone", ("tone", "whatsapp", "polite", "rude", "tom ")),
    ("goal", ("goal", "resolv", "objetivo")),
)


def is_judge_request(request: ChatRequest) -> bool:
    return any(
        m.get("role") in ("system", "developer") and JUDGE_MARKER in content_text(m.get("content"))
        for m in request.messages
    )


def judge_reply(request: ChatRequest, script: Script) -> Reply | None:
    """The verdict for a judge request, or None (not a judge request, or a model the script drives)."""
    if request.model in script.models or request.model in script.canned or not is_judge_request(request):
        return None
    sections = _sections(request)
    rubric = json.loads(sections.get("rubric") or "{}")
    lines = [
        Line(int(x.get("turn", 0)), str(x.get("role", "")), str(x.get("text", "")))
        for x in json.loads(sections.get("transcript") or "[]")
    ]
    reference = _reference(sections.get("reference"))
    verdict: dict[str, Any] = {}
    for criterion in rubric.get("criteria", []):
        check = _check(criterion, lines, reference)
        verdict[criterion["id"]] = {"reason": check.reason, "score": _score(check.quality, criterion)}
    return Reply(json.dumps({"criteria": verdict}, ensure_ascii=False))


def _sections(request: ChatRequest) -> dict[str, str]:
    text = "\n".join(content_text(m.get("content")) for m in request.messages if m.get("role") == "user")
    return {name: body for name, body in _SECTION.findall(text)}


def _reference(text: str | None) -> dict[str, Any] | None:
    if not text or text.strip() == "(none)":
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None  # free text: for a real model to read; the local judge checks JSON facts only
    return data if isinstance(data, dict) else None


def kind_of(criterion: dict[str, Any]) -> str | None:
    """The check for a criterion: by the words of its id, else of its description."""
    for text in (str(criterion.get("id", "")), str(criterion.get("description", ""))):
        words = checks.fold(text.replace("_", " "))
        for kind, keys in _KINDS:
            if any(checks.fold(k) in words for k in keys):
                return kind
    return None


def _check(criterion: dict[str, Any], lines: list[Line], reference: dict[str, Any] | None) -> Check:
    kind = kind_of(criterion)
    if kind == "goal":
        return checks.goal(lines)
    if kind == "facts":
        return checks.facts(lines, reference)
    if kind == "personal_data":
        return checks.personal_data(lines, reference)
    if kind == "tone":
        return checks.tone(lines)
    if kind == "language":
        return checks.language(lines, reference)
    return Check(checks.MINOR, "the local judge has no check for this criterion: scored just passing")


def _score(quality: float, criterion: dict[str, Any]) -> int:
    low, high = int(criterion.get("min", 1)), int(criterion.get("max", 5))
    pass_at = int(criterion.get("pass_at", high))
    if quality == checks.MINOR:
        return max(low, min(high, pass_at))  # a minor flaw passes, just
    if high - low == 1:
        return high if quality >= 0.5 else low
    return max(low, min(high, round(low + quality * (high - low))))
