"""Data consistency: does what the assistant says about a listing match the catalog?

Result lines look like `1) <title> — R$ 450.000 — 3 quartos — Água Verde (código #351)` (English:
`R$ 2,300 — 2 bedrooms — ... (code #338)`). Each one is checked against `GET /api/properties/{id}`:
price, bedrooms and neighbourhood must match.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from convoload.conversation.records import ConversationRecord
from convoload.textutil import fold

_LINE_RE = re.compile(
    r"^\s*\d+\)\s*(?P<title>.+?)\s+—\s+R\$\s*(?P<price>[\d.,]+)\S*\s+—\s+(?P<bedrooms>\d+)\s+(?:quartos?|bedrooms?)"
    r"\s+—\s+(?P<neighbourhood>.+?)\s+\((?:código|codigo|code)\s+#(?P<id>\d+)\)\s*$",
    re.MULTILINE | re.IGNORECASE,
)


@dataclass
class Mismatch:
    session_id: str
    iteration: int
    property_id: int
    field: str
    said: Any
    catalog: Any


@dataclass
class ConsistencyReport:
    checked: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def score(self) -> float:
        """Share of checked listings with no mismatch (1.0 when nothing was checkable)."""
        if not self.checked:
            return 1.0
        bad = len({(m.session_id, m.iteration, m.property_id) for m in self.mismatches})
        return round(1 - bad / self.checked, 4)


def parse_amount(text: str) -> int:
    """'450.000' (pt) or '2,300' (en) -> 450000 / 2300."""
    return int(re.sub(r"[.,]", "", text))


def check(
    records: Iterable[ConversationRecord], get_property: Callable[[int], dict[str, Any]]
) -> ConsistencyReport:
    report = ConsistencyReport()
    cache: dict[int, dict[str, Any] | None] = {}
    for record in records:
        for turn in record.turns:
            for match in _LINE_RE.finditer(turn.reply_text or ""):
                property_id = int(match.group("id"))
                if property_id not in cache:
                    try:
                        cache[property_id] = get_property(property_id)
                    except Exception:  # unknown id: the assistant named a listing that does not exist
                        cache[property_id] = None
                listing = cache[property_id]
                report.checked += 1
                for name, said, actual in _compare(match, listing):
                    report.mismatches.append(
                        Mismatch(record.session_id, turn.iteration, property_id, name, said, actual)
                    )
    return report


def _compare(match: re.Match[str], listing: dict[str, Any] | None) -> list[tuple[str, Any, Any]]:
    if listing is None:
        return [("id", int(match.group("id")), None)]
    out = []
    said_price = parse_amount(match.group("price"))
    if said_price != round(float(listing["price"])):
        out.append(("price", said_price, listing["price"]))
    if int(match.group("bedrooms")) != int(listing["bedrooms"]):
        out.append(("bedrooms", int(match.group("bedrooms")), listing["bedrooms"]))
    neighbourhood = listing.get("neighbourhood") or (listing.get("address") or {}).get("neighbourhood", "")
    if fold(match.group("neighbourhood").strip()) != fold(str(neighbourhood)):
        out.append(("neighbourhood", match.group("neighbourhood").strip(), neighbourhood))
    return out
