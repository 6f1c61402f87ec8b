"""Reference facts for the judge (a rubric's `reference`): what the agents' replies are checked against.

Each function takes a conversation record and returns JSON text: the tickets agent's price table, or
the catalog entries of the listings the real-estate agent showed (looked up in the catalog the bundled
system generates: seed 42, listings numbered from 1, the same prefix whatever the size). A real
model reads the same facts as the local judge does.
"""

from __future__ import annotations

import json
import re
import threading
from itertools import islice

from convoload.model import ConversationRecord
from convoload_demo.realestate.catalog.generator import generate_listings
from convoload_demo.realestate.catalog.settings import CatalogSettings
from convoload_demo.tickets.catalog import (
    CABIN_PER_NIGHT,
    CATEGORY_LABELS,
    PRICES,
    ZIPLINE_PER_PERSON,
)

# The bundled system's default catalog size: a higher code than this is no listing of it.
CATALOG_SIZE = 10_000
_CODE = re.compile(r"#(\d{1,7})\b")
_catalog: list[dict] = []
_lock = threading.Lock()


def tickets_facts(record: ConversationRecord) -> str:
    unit_prices = {
        product: {
            labels[cat]: float(price) for labels in CATEGORY_LABELS.values() for cat, price in prices.items()
        }
        for product, prices in PRICES.items()
    }
    extras = {
        "Cabana na Floresta": float(CABIN_PER_NIGHT),
        "Forest Cabin": float(CABIN_PER_NIGHT),
        "Experiência Tirolesa": float(ZIPLINE_PER_PERSON),
        "Zipline Experience": float(ZIPLINE_PER_PERSON),
    }
    facts = {
        "currency": "BRL",
        "unit_prices": unit_prices,
        "extras": extras,
        "extras_per": {"Cabana na Floresta": "night", "Experiência Tirolesa": "person"},
        "personal_data_needed": ["nome completo", "cpf", "telefone", "e-mail"],
        "personal_data_when": "to finish an order, after the tickets are chosen",
    }
    return json.dumps(facts, ensure_ascii=False)


def realestate_facts(record: ConversationRecord) -> str:
    codes: list[int] = []
    for turn in record.turns:
        for code in _CODE.findall(turn.reply_text or ""):
            if int(code) not in codes:
                codes.append(int(code))
    listings = {}
    missing = []
    for code in codes:
        row = _listing(code)
        if row is None:
            missing.append(str(code))
            continue
        listings[str(code)] = {
            "title": row["title"],
            "transaction": row["transaction_type"],
            "price": row["price"],
            "condo_fee": row["condo_fee"],
            "iptu_yearly": row["iptu_yearly"],
            "bedrooms": row["bedrooms"],
            "status": row["status"],
        }
    facts = {
        "currency": "BRL",
        "listings": listings,
        "not_in_catalog": missing,
        "personal_data_needed": ["nome completo", "telefone", "e-mail"],
        "personal_data_when": "to confirm a visit, once its date and time are chosen",
    }
    return json.dumps(facts, ensure_ascii=False)


def _listing(code: int) -> dict | None:
    if not 1 <= code <= CATALOG_SIZE:
        return None
    with _lock:
        if len(_catalog) < code:  # generated once per process, as far as the codes asked for go
            seed = CatalogSettings().seed
            _catalog[:] = list(islice(generate_listings(CATALOG_SIZE, seed), max(code, 2_000)))
        return _catalog[code - 1]
