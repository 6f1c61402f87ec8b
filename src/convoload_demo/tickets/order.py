"""Order maths and identifiers: priced lines, totals, deterministic order ids and payment links."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from convoload_demo.tickets.catalog import (
    CABIN_PER_NIGHT,
    CATEGORIES,
    CATEGORY_LABELS,
    PRICES,
    PRODUCT_PARK,
    ZIPLINE_PER_PERSON,
    Line,
)
from convoload_demo.tickets.messages import t

PAYMENT_BASE_URL = "https://pay.example.com"


@dataclass
class Order:
    """What the customer is buying; filled slot by slot during the conversation."""

    product: str = PRODUCT_PARK
    day: date | None = None
    quantities: dict[str, int] = field(default_factory=dict)
    cabin_nights: int = 0
    zipline: bool = False
    zipline_people: int | None = None  # None = everyone in the party

    @property
    def people(self) -> int:
        return sum(self.quantities.values())

    def ticket_lines(self, lang: str) -> list[Line]:
        prices = PRICES[self.product]
        return [
            Line(CATEGORY_LABELS[lang][cat], self.quantities[cat], prices[cat])
            for cat in CATEGORIES
            if self.quantities.get(cat)
        ]

    def extra_lines(self, lang: str) -> list[Line]:
        lines: list[Line] = []
        if self.cabin_nights:
            n = self.cabin_nights
            label = t(lang, "cabin_item", nights=n, plural="s" if n > 1 else "")
            lines.append(Line(label, n, CABIN_PER_NIGHT))
        if self.zipline and (n := self.zipline_people or self.people):
            who = t(lang, "people" if n > 1 else "person")
            label = t(lang, "zipline_item", people=n, who=who)
            lines.append(Line(label, n, ZIPLINE_PER_PERSON))
        return lines

    def subtotal(self, lang: str) -> Decimal:
        return sum((line.total for line in self.ticket_lines(lang)), Decimal(0))

    def total(self, lang: str) -> Decimal:
        lines = self.ticket_lines(lang) + self.extra_lines(lang)
        return sum((line.total for line in lines), Decimal(0))


def order_id(session_id: str, sequence: int) -> str:
    """Stable id: the same session and sequence number always give the same order id."""
    digest = hashlib.sha256(f"{session_id}#{sequence}".encode()).hexdigest()
    return "CV" + digest[:10].upper()


def payment_url(method: str, order: str) -> str:
    return f"{PAYMENT_BASE_URL}/{'pix' if method == 'pix' else 'card'}/{order}"
