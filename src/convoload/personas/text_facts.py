"""Read a free-text persona prompt (how users keep personas today) into a persona.

The whole text stays the persona's description, which is what an LLM user
plays. For scripted users we also pick out, best effort, the facts such prompts
usually state: dates, quantities per ticket category, whether upselling and
promotional opt-in are accepted, the payment method and curious questions.
"""

from __future__ import annotations

import re

from convoload.personas.model import Persona
from convoload.textutil import dates_in, fold, parse_count

_CATEGORY_WORDS = {
    "adulto": "adulto",
    "adultos": "adulto",
    "adult": "adulto",
    "adults": "adulto",
    "crianca": "crianca",
    "criancas": "crianca",
    "child": "crianca",
    "children": "crianca",
    "kids": "crianca",
    "idoso": "idoso",
    "idosos": "idoso",
    "idosa": "idoso",
    "idosas": "idoso",
    "senior": "idoso",
    "seniors": "idoso",
    "gestante": "gestante",
    "gestantes": "gestante",
    "pregnant": "gestante",
    "pcd": "pcd",
}
_QUANTITY_RE = re.compile(
    r"\b(\d+|um|uma|dois|duas|tres|quatro|cinco|seis|sete|oito|nove|dez|one|two|three|"
    r"four|five|six|seven|eight|nine|ten)\s+(" + "|".join(_CATEGORY_WORDS) + r")\b"
)
_WEEK_RE = re.compile(
    r"\b(primeira|segunda|terceira|quarta|first|second|third|fourth)\s+(semana|week)\s+"
    r"(de|of)\s+([a-z]+)"
)
_ENGLISH_HINTS = ("the ", " wants ", " tickets", " adults", " accepts ", " refuses ")
# "Playbook: tickets" on a line of its own: how scripted users play it, as a YAML persona's `playbook`.
_PLAYBOOK_RE = re.compile(r"^\s*playbook\s*:\s*(\S+)\s*$", re.IGNORECASE | re.MULTILINE)


def persona_from_text(name: str, text: str) -> Persona:
    folded = fold(text)
    facts: dict = {}
    behaviours: dict[str, bool] = {}

    week = _WEEK_RE.search(folded)
    dates = dates_in(text)
    if week:
        facts["date"] = week.group(0)
    elif dates:
        facts["date"] = dates[0]
    if len(dates) >= 2 and ("fechad" in folded or "closed" in folded or "nova data" in folded):
        facts["alternative_date"] = dates[1]

    quantities: dict[str, int] = {}
    for count, word in _QUANTITY_RE.findall(folded):
        n = parse_count(count)
        if n:
            category = _CATEGORY_WORDS[word]
            quantities[category] = quantities.get(category, 0) + n
    if quantities:
        facts["quantities"] = quantities

    if "arvorar" in folded:
        facts["product"] = "Arvorar"
    if "pix" in folded:
        facts["payment_method"] = "pix"
    elif "cartao" in folded or "card" in folded:
        facts["payment_method"] = "cartao"

    questions = []
    if "onde fica" in folded or "where the park is" in folded or "where it is" in folded:
        questions.append("onde fica o parque?")
    if "o que tem" in folded or "what there is to do" in folded or "atracoes" in folded:
        questions.append("e o que tem pra fazer ai?")
    if questions:
        facts["questions"] = questions
    if "disponibilidade" in folded or "availability" in folded:
        facts["ask_availability"] = True

    for key, words in (
        ("accepts_upsell", ("upsell", "cabana", "cabin")),
        ("accepts_optin", ("opt-in", "optin")),
    ):
        decision = _decision_near(folded, words)
        if decision is not None:
            behaviours[key] = decision
    behaviours.setdefault("accepts_alternative_date", "aceita nova data" in folded or "accepts" in folded)

    language = "en" if sum(h in folded for h in _ENGLISH_HINTS) >= 2 else "pt-BR"
    goal_line = next(
        (line.strip() for line in text.splitlines() if "objetivo" in fold(line) or "goal" in fold(line)), ""
    )
    playbook = _PLAYBOOK_RE.search(text)
    return Persona(
        name=name,
        language=language,
        description=text.strip(),
        goal=goal_line,
        playbook=playbook.group(1) if playbook else None,
        facts=facts,
        behaviours=behaviours,
    )


def _decision_near(folded: str, words: tuple[str, ...]) -> bool | None:
    """'aceita upselling' -> True, 'recusa upselling' -> False, within the same line."""
    for line in folded.splitlines():
        if any(w in line for w in words):
            if any(neg in line for neg in ("recusa", "nao aceita", "refuses", "declines", "rejeita")):
                return False
            if any(pos in line for pos in ("aceita", "accepts", "quer ", "wants")):
                return True
    return None
