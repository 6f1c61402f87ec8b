"""Search criteria in free text (Portuguese and English): what the customer wants, and which listing."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any

from convoload_demo.realestate.swarm.rules.geo import find_city, find_landmark, find_neighbourhoods
from convoload_demo.realestate.swarm.rules.text import NUMBER_WORDS, first_phrase, has, normalize

TRANSACTIONS = {
    "comprar": "sale",
    "compra": "sale",
    "compro": "sale",
    "adquirir": "sale",
    "a venda": "sale",
    "buy": "sale",
    "buying": "sale",
    "purchase": "sale",
    "for sale": "sale",
    "alugar": "rent",
    "aluguel": "rent",
    "alugo": "rent",
    "locacao": "rent",
    "alugando": "rent",
    "rent": "rent",
    "renting": "rent",
    "rental": "rent",
    "lease": "rent",
}
PROPERTY_WORDS = {
    "apartamento": "apartment",
    "apartamentos": "apartment",
    "apto": "apartment",
    "ap": "apartment",
    "apartment": "apartment",
    "apartments": "apartment",
    "flat": "apartment",
    "condo": "apartment",
    "casa": "house",
    "casas": "house",
    "sobrado": "house",
    "house": "house",
    "houses": "house",
    "cobertura": "penthouse",
    "coberturas": "penthouse",
    "penthouse": "penthouse",
    "studio": "studio",
    "estudio": "studio",
    "kitnet": "studio",
    "quitinete": "studio",
    "kitchenette": "studio",
    "loft": "studio",
    "terreno": "land",
    "lote": "land",
    "land": "land",
    "plot": "land",
    "sala comercial": "commercial",
    "loja": "commercial",
    "comercial": "commercial",
    "escritorio": "commercial",
    "commercial": "commercial",
    "office": "commercial",
}
AMENITY_WORDS = {
    "piscina": "pool",
    "pool": "pool",
    "academia": "gym",
    "gym": "gym",
    "churrasqueira": "barbecue",
    "barbecue": "barbecue",
    "bbq": "barbecue",
    "playground": "playground",
    "parquinho": "playground",
    "salao de festas": "party_room",
    "party room": "party_room",
    "portaria 24h": "concierge",
    "portaria": "concierge",
    "porteiro": "concierge",
    "concierge": "concierge",
    "doorman": "concierge",
    "elevador": "elevator",
    "elevator": "elevator",
    "lift": "elevator",
    "varanda": "balcony",
    "sacada": "balcony",
    "balcony": "balcony",
    "jardim": "garden",
    "quintal": "garden",
    "garden": "garden",
    "yard": "garden",
    "sauna": "sauna",
    "coworking": "coworking",
    "lavanderia": "laundry",
    "laundry": "laundry",
}
PET_PHRASES = (
    "aceita pet",
    "aceite pet",
    "aceitem pet",
    "aceita pets",
    "aceita animais",
    "aceita animal",
    "tenho um gato",
    "tenho uma gata",
    "tenho um cachorro",
    "tenho uma cachorra",
    "tenho gato",
    "tenho cachorro",
    "meu gato",
    "minha gata",
    "meu cachorro",
    "pet friendly",
    "pets allowed",
    "i have a cat",
    "i have a dog",
    "my cat",
    "my dog",
    "with a cat",
    "with a dog",
    "com um gato",
    "com meu gato",
    "com cachorro",
    "allows pets",
    "pets ok",
)
_MULTIPLIERS = {
    "mil": 1_000,
    "k": 1_000,
    "thousand": 1_000,
    "mi": 1_000_000,
    "milhao": 1_000_000,
    "milhoes": 1_000_000,
    "million": 1_000_000,
    "millions": 1_000_000,
    "m": 1_000_000,
}
_MONEY = re.compile(
    r"(?P<cur>r\$\s*)?(?P<num>\d[\d.,]*)\s*(?P<mult>milhoes|milhao|millions|million|thousand|mil|mi|k|m)?\b"
)
_BEFORE_MONEY = re.compile(
    r"(ate|up to|max|maximo|maximum|budget|orcamento|below|under|menos de|no maximo|pagar|pago|de|of|por|for)"
    r"\s*(r\$)?\s*$"
)
_AFTER_MONEY = re.compile(r"^\s*(reais|por mes|/mes|/ ?month|a month|per month|mensais|brl)")
_COUNTED = re.compile(
    r"^\s*(quartos?|dormitorios?|dorms?|bedrooms?|beds?|br\b|suites?|vagas?|banheiros?"
    r"|bathrooms?|m2|m²|metros|h\b|horas?|hours?|am\b|pm\b|:|/)"
)
_BEDROOMS = re.compile(
    r"\b(\d+|" + "|".join(NUMBER_WORDS) + r")[\s-]*(?:ou mais\s+)?(?:quartos?|dormitorios?|dorms?|bedrooms?"
    r"|beds?|br\b|bed\b)"
)
_SELECT_CODE = re.compile(r"(?:#|codigo\s*#?|code\s*#?|id\s*#?)\s*(\d+)")
_SELECT_WORDS = {
    "primeiro": 1,
    "primeira": 1,
    "first": 1,
    "segundo": 2,
    "segunda": 2,
    "second": 2,
    "terceiro": 3,
    "terceira": 3,
    "third": 3,
}
_SELECT_NUMBER = re.compile(
    r"\b(?:numero|number|no|do|da|o|a|opcao|option|item|imovel|listing|#)?\s*(\d{1,2})\b(?!\s*(?:quartos?"
    r"|bedrooms?|mil|k|h\b|horas?|am|pm|:|/))"
)
NO_PREFERENCE = (
    "tanto faz",
    "sem limite",
    "qualquer",
    "nao sei",
    "no limit",
    "any",
    "doesn t matter",
    "dont care",
    "don t care",
    "whatever",
    "nao importa",
    "sem preferencia",
    "no preference",
)


@dataclass
class Criteria:
    transaction_type: str | None = None
    city: str | None = None
    neighbourhoods: list[str] = field(default_factory=list)
    property_types: list[str] = field(default_factory=list)
    bedrooms_min: int | None = None
    price_max: int | None = None
    amenities: list[str] = field(default_factory=list)
    pet_friendly: bool | None = None
    furnished: bool | None = None

    def merge(self, other: Criteria) -> bool:
        """Take every value `other` sets (amenities add up); whether anything changed."""
        changed = False
        for item in fields(self):
            new = getattr(other, item.name)
            if new in (None, []):
                continue
            if item.name == "amenities":
                new = sorted(set(self.amenities) | set(new))
            if new != getattr(self, item.name):
                setattr(self, item.name, new)
                changed = True
        return changed

    def any(self) -> bool:
        return any(getattr(self, item.name) not in (None, []) for item in fields(self))

    def search_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"transaction_type": self.transaction_type, "city": self.city}
        if self.neighbourhoods:
            params["neighbourhood"] = list(self.neighbourhoods)
        if self.property_types:
            params["property_type"] = list(self.property_types)
        if self.bedrooms_min:
            params["bedrooms_min"] = self.bedrooms_min
        if self.price_max:
            params["price_max"] = self.price_max
        if self.amenities:
            params["amenities"] = list(self.amenities)
        if self.pet_friendly:
            params["pet_friendly"] = True
        if self.furnished:
            params["furnished"] = True
        return {**params, "sort": "price_asc", "page_size": 5}

    def wants_bedrooms(self) -> bool:
        return not self.property_types or bool({"apartment", "house", "penthouse"} & set(self.property_types))


def parse_amount(number: str, multiplier: str | None) -> int | None:
    """'650' + 'mil' -> 650000; '1.800' -> 1800; '4,500' -> 4500; '1,2' + 'milhao' -> 1200000."""
    digits = number.rstrip(".,")
    groups = re.split(r"[.,]", digits)
    if len(groups) > 2 and len(groups[-1]) == 2:
        groups = groups[:-1]  # cents: "650.000,00"
    if len(groups) > 1 and all(len(g) == 3 for g in groups[1:]):
        value = float("".join(groups))  # thousands separators, either style
    elif len(groups) == 2:
        value = float(f"{groups[0]}.{groups[1]}")  # a decimal part: "1,5 milhão"
    else:
        try:
            value = float(digits)
        except ValueError:
            return None
    if multiplier:
        value *= _MULTIPLIERS[multiplier]
    return round(value) if value > 0 else None


def find_budget(norm: str, *, expected: bool = False) -> tuple[int | None, str]:
    """A maximum price and the text without it. A bare number counts only when a budget was asked for."""
    for match in _MONEY.finditer(norm):
        before, after = norm[: match.start()], norm[match.end() :]
        mult = match.group("mult")
        if _COUNTED.match(after) and not mult:
            continue
        if mult == "m" and not match.group("cur"):
            continue  # "50 m" is more likely metres than millions
        moneyish = bool(
            match.group("cur") or mult or _BEFORE_MONEY.search(before) or _AFTER_MONEY.match(after)
        )
        if moneyish or expected:
            amount = parse_amount(match.group("num"), mult)
            if amount is not None and (amount >= 100 or mult):
                return amount, norm[: match.start()] + " " + norm[match.end() :]
    return None, norm


def find_bedrooms(norm: str, *, expected: bool = False) -> int | None:
    match = _BEDROOMS.search(norm)
    token = match.group(1) if match else None
    if token is None and expected:
        bare = re.search(r"\b(\d|" + "|".join(NUMBER_WORDS) + r")\b", norm)
        token = bare.group(1) if bare else None
    if token is None:
        return None
    return int(token) if token.isdigit() else NUMBER_WORDS[token]


def parse_criteria(text: str, *, pending: str | None = None) -> Criteria:
    """Everything the message says about the wanted listing; `pending` is the question just asked."""
    norm = normalize(text)
    criteria = Criteria()
    budget, rest = find_budget(norm, expected=pending == "budget")
    criteria.price_max = budget
    criteria.bedrooms_min = find_bedrooms(rest, expected=pending == "bedrooms")
    transactions = first_phrase(norm, TRANSACTIONS)
    if transactions:
        criteria.transaction_type = transactions[0]
    elif has(norm, "por mes", "per month", "a month", "mensal"):
        criteria.transaction_type = "rent"
    criteria.city = find_city(norm)
    implied_city, neighbourhoods = find_neighbourhoods(norm, criteria.city)
    landmark = find_landmark(norm)
    if landmark and not neighbourhoods:
        implied_city, neighbourhoods = landmark[0], list(landmark[1])
    if neighbourhoods and criteria.city in (None, implied_city):
        criteria.city = implied_city
        criteria.neighbourhoods = neighbourhoods
    criteria.property_types = first_phrase(norm, PROPERTY_WORDS)
    criteria.amenities = sorted(first_phrase(norm, AMENITY_WORDS))
    if has(norm, *PET_PHRASES) or re.search(r"\b(gato|gata|cachorro|cachorra|cat|dog|pet|pets)\b", norm):
        criteria.pet_friendly = True
    if re.search(r"\b(mobiliad[oa]s?|furnished)\b", norm) and not re.search(
        r"\b(sem mobilia|nao mobiliad|unfurnished|semi)", norm
    ):
        criteria.furnished = True
    return criteria


def no_preference(text: str) -> bool:
    return has(normalize(text), *NO_PREFERENCE)


def parse_selection(text: str, listings: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Which of the listed listings the customer means: '#123', 'o primeiro', 'number 2', 'do 1'."""
    norm = normalize(text)
    by_id = {str(item.get("id")): item for item in listings}
    code = _SELECT_CODE.search(norm)
    if code:
        # "#2" is the second line unless a listed code is 2; other codes are taken as given.
        value = code.group(1)
        if value in by_id:
            return by_id[value]
        if 1 <= int(value) <= len(listings):
            return listings[int(value) - 1]
        return {"id": int(value)}
    for word, position in _SELECT_WORDS.items():
        if has(norm, word) and position <= len(listings):
            return listings[position - 1]
    if has(norm, "ultimo", "ultima", "last") and listings:
        return listings[-1]
    for match in _SELECT_NUMBER.finditer(norm):
        value = match.group(1)
        if value in by_id:
            return by_id[value]
        if 1 <= int(value) <= len(listings):
            return listings[int(value) - 1]
    return None
