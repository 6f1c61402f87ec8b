"""Static park data: products, categories, prices, add-ons and default closures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

PARK_NAME = "Parque Vale das Araucárias"

# Ordered so summaries always list categories the same way.
CATEGORIES: tuple[str, ...] = ("adulto", "crianca", "idoso", "gestante", "pcd")

CATEGORY_LABELS: dict[str, dict[str, str]] = {
    "pt": {
        "adulto": "Adulto",
        "crianca": "Criança",
        "idoso": "Idoso",
        "gestante": "Gestante",
        "pcd": "PCD",
    },
    "en": {
        "adulto": "Adult",
        "crianca": "Child",
        "idoso": "Senior",
        "gestante": "Pregnant woman",
        "pcd": "PCD",
    },
}

PRODUCT_PARK = "Parque"
PRODUCT_ARVORAR = "Arvorar"

PRICES: dict[str, dict[str, Decimal]] = {
    PRODUCT_PARK: {
        "adulto": Decimal("60"),
        "crianca": Decimal("30"),
        "idoso": Decimal("30"),
        "gestante": Decimal("30"),
        "pcd": Decimal("30"),
    },
    PRODUCT_ARVORAR: {
        "adulto": Decimal("120"),
        "crianca": Decimal("60"),
        "idoso": Decimal("60"),
        "gestante": Decimal("60"),
        "pcd": Decimal("60"),
    },
}

CABIN_PER_NIGHT = Decimal("280")
ZIPLINE_PER_PERSON = Decimal("70")

DEFAULT_CLOSED_DATES: dict[date, str] = {
    date(2026, 11, 20): "maintenance",
    date(2026, 12, 25): "christmas",
    date(2027, 1, 1): "new_year",
}


@dataclass(frozen=True)
class Line:
    """One priced line of an order summary."""

    label: str
    quantity: int
    unit: Decimal

    @property
    def total(self) -> Decimal:
        return self.unit * self.quantity


def money(value: Decimal, lang: str) -> str:
    """Format BRL: "R$ 1.234,56" in Portuguese, "R$ 1,234.56" in English."""
    text = f"{value:,.2f}"
    if lang == "pt":
        text = text.replace(",", "_").replace(".", ",").replace("_", ".")
    return f"R$ {text}"


def ddmm(day: date) -> str:
    return day.strftime("%d/%m")


def ddmmyyyy(day: date) -> str:
    return day.strftime("%d/%m/%Y")
