"""Data consistency: does what the assistant says about a listing match the catalog?

Result lines look like `1) <title> — R$ 450.000 — 3 quartos — Água Verde (código #351)` (English:
`R$ 2,300 — 2 bedrooms — ... (code #338)`). Each one is checked against `GET /api/properties/{id}`:
price, bedrooms and neighbourhood must match.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from convoload.bundled import StartedSystem
from convoload.model import ConversationRecord
from convoload.pipeline.model import CheckResult, DomainCheck, Mismatch
from convoload.textutil import fold

_LINE_RE = re.compile(
    r"^\s*\d+\)\s*(?P<title>.+?)\s+—\s+R\$\s*(?P<price>[\d.,]+)\S*\s+—\s+(?P<bedrooms>\d+)\s+(?:quartos?|bedrooms?)"
    r"\s+—\s+(?P<neighbourhood>.+?)\s+\((?:código|codigo|code)\s+#(?P<id>\d+)\)\s*$",
    re.MULTILINE | re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class ListingMismatch(Mismatch):
    """A listing line whose `field` said something else than the catalog (`id`: no such listing)."""

    property_id: int
    field: str
    said: Any
    catalog: Any

    @property
    def item(self) -> tuple[Any, ...]:
        return (self.session_id, self.iteration, self.property_id)


def parse_amount(text: str) -> int:
    """'450.000' (pt) or '2,300' (en) -> 450000 / 2300."""
    return int(re.sub(r"[.,]", "", text))


def check(
    records: Iterable[ConversationRecord], get_property: Callable[[int], dict[str, Any]]
) -> CheckResult:
    report = CheckResult()
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
                        ListingMismatch(record.session_id, turn.iteration, property_id, name, said, actual)
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


def check_against_catalog(records: Sequence[ConversationRecord], system: StartedSystem) -> CheckResult:
    """`check` with the listings of the system's catalog API."""
    catalog = system.catalog_url
    if catalog is None:
        raise ValueError(f"system {system.name!r} has no catalog to check listings against")
    with httpx.Client(timeout=10) as http:
        return check(
            records, lambda pid: http.get(f"{catalog}/api/properties/{pid}").raise_for_status().json()
        )


DATA_CONSISTENCY = DomainCheck(
    "data_consistency",
    check_against_catalog,
    advice="listings the assistant quoted do not match the catalog: check how listings are "
    "rendered (data_consistency.mismatches)",
)
