"""Reproducible generator of a realistic Brazilian property catalog.

Prices follow a per-neighbourhood price per m², adjusted by property type, age and a bit of noise; rents
are a monthly yield on that value. One listing in ten comes from a *scenario template* so that the
searches the assistant scenarios rely on always have at least 20 available matches (by construction,
not by luck) once the catalog has 2,000 listings or more.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

from convoload_demo.realestate.catalog.geo import CITIES, CITY_BY_NAME, City, Neighbourhood
from convoload_demo.realestate.vocabulary import AMENITIES

Row = dict[str, Any]

TEMPLATE_EVERY = 10  # every 10th listing is a scenario listing
CREATED_FROM = datetime(2025, 1, 1, 8, 0, 0)  # fixed, so a seed gives the same catalog on any day

_TYPE_WEIGHTS = {"apartment": 55, "studio": 13, "house": 12, "commercial": 10, "penthouse": 5, "land": 5}
_TYPE_M2_FACTOR = {
    "apartment": 1.0,
    "studio": 1.15,
    "penthouse": 1.35,
    "house": 0.85,
    "commercial": 0.9,
    "land": 0.35,
}
_TYPE_PT = {
    "apartment": "Apartamento",
    "studio": "Studio",
    "penthouse": "Cobertura",
    "house": "Casa",
    "commercial": "Sala comercial",
    "land": "Terreno",
}
_AMENITY_PT = {
    "pool": "piscina",
    "gym": "academia",
    "barbecue": "churrasqueira",
    "playground": "playground",
    "party_room": "salão de festas",
    "concierge": "portaria 24h",
    "elevator": "elevador",
    "balcony": "sacada",
    "garden": "jardim",
    "sauna": "sauna",
    "coworking": "coworking",
    "laundry": "lavanderia",
}
# Probability of each amenity for residential buildings (apartment, studio, penthouse) and for houses.
_BUILDING_AMENITIES = {
    "pool": 0.4,
    "gym": 0.45,
    "barbecue": 0.5,
    "playground": 0.35,
    "party_room": 0.55,
    "concierge": 0.6,
    "elevator": 0.85,
    "balcony": 0.6,
    "garden": 0.2,
    "sauna": 0.2,
    "coworking": 0.15,
    "laundry": 0.3,
}
_HOUSE_AMENITIES = {
    "pool": 0.35,
    "barbecue": 0.7,
    "garden": 0.7,
    "balcony": 0.3,
    "laundry": 0.5,
    "sauna": 0.1,
}
_COMMERCIAL_AMENITIES = {"elevator": 0.8, "concierge": 0.7, "coworking": 0.1}
_STREETS = (
    "Rua das Flores",
    "Rua XV de Novembro",
    "Avenida Brasil",
    "Rua Sete de Setembro",
    "Rua Tiradentes",
    "Avenida Getúlio Vargas",
    "Rua Marechal Deodoro",
    "Rua São José",
    "Rua Santa Catarina",
    "Avenida Paulista",
    "Rua Dom Pedro II",
    "Rua Barão do Rio Branco",
    "Rua Visconde de Mauá",
    "Rua Padre Anchieta",
    "Avenida Atlântica",
    "Rua Machado de Assis",
    "Rua Carlos Gomes",
    "Rua Rui Barbosa",
    "Rua Santos Dumont",
    "Rua Oswaldo Cruz",
    "Alameda dos Ipês",
    "Rua das Palmeiras",
    "Rua Bento Gonçalves",
    "Avenida Independência",
    "Rua Cecília Meireles",
    "Rua Monteiro Lobato",
    "Rua José de Alencar",
    "Rua Castro Alves",
)


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _layout(rng: random.Random, ptype: str, bedrooms: int | None = None) -> Row:
    """Rooms and areas that fit together (a 4-bedroom flat is not 40 m²)."""
    if ptype == "studio":
        beds, usable = 1, rng.randint(22, 42)
        suites, baths, parking = 0, 1, rng.choices((0, 1), (60, 40))[0]
    elif ptype == "apartment":
        beds = bedrooms or rng.choices((1, 2, 3, 4), (20, 40, 30, 10))[0]
        usable = 28 + beds * 20 + rng.randint(-6, 22)
        suites = rng.randint(0, min(beds, 1 + beds // 2))
        baths = suites + 1  # one bathroom per suite plus the shared one
        parking = min(beds, rng.choices((0, 1, 2, 3), (15, 50, 28, 7))[0])
    elif ptype == "penthouse":
        beds = bedrooms or rng.choices((3, 4, 5), (35, 45, 20))[0]
        usable = 110 + beds * 35 + rng.randint(0, 120)
        suites = rng.randint(2, beds)
        baths, parking = suites + 1, rng.randint(2, 4)
    elif ptype == "house":
        beds = bedrooms or rng.choices((2, 3, 4, 5), (20, 40, 30, 10))[0]
        usable = 50 + beds * 35 + rng.randint(0, 120)
        suites = rng.randint(0, beds - 1)
        baths, parking = suites + 1 + rng.randint(0, 1), rng.randint(1, 4)
    elif ptype == "commercial":
        beds, usable = 0, rng.choice((30, 35, 42, 50, 65, 80, 120, 180, 250, 400))
        suites, baths, parking = 0, 1 + usable // 120, rng.randint(0, max(1, usable // 60))
    else:  # land
        beds = suites = baths = parking = 0
        usable = rng.randint(250, 1200)
    if ptype == "house":
        total = round(usable * rng.uniform(1.4, 2.6))
    elif ptype == "land":
        total = usable
    else:
        total = round(usable * rng.uniform(1.15, 1.4))  # share of the building's common areas
    return {
        "bedrooms": beds,
        "suites": suites,
        "bathrooms": baths,
        "parking_spaces": parking,
        "usable_area_m2": float(usable),
        "total_area_m2": float(total),
    }


def _amenities(rng: random.Random, ptype: str, nbh: Neighbourhood) -> list[str]:
    table = {"house": _HOUSE_AMENITIES, "commercial": _COMMERCIAL_AMENITIES, "land": {}}.get(
        ptype, _BUILDING_AMENITIES
    )
    upscale = 1.25 if nbh.sale_m2 >= 12_000 or ptype == "penthouse" else 1.0  # pricier areas, more perks
    return [a for a in AMENITIES if a in table and rng.random() < min(0.95, table[a] * upscale)]


def _resize(rng: random.Random, row: Row, usable: int) -> None:
    """Set the usable area of a flat and keep the total area (with common areas) consistent."""
    row["usable_area_m2"] = float(usable)
    row["total_area_m2"] = float(round(usable * rng.uniform(1.15, 1.4)))


def _market_value(rng: random.Random, row: Row, nbh: Neighbourhood) -> float:
    area = row["total_area_m2"] if row["property_type"] == "land" else row["usable_area_m2"]
    age = 2025 - (row["year_built"] or 2025)
    age_factor = max(0.75, 1.08 - age * 0.006)  # new buildings ask a premium
    return area * nbh.sale_m2 * _TYPE_M2_FACTOR[row["property_type"]] * age_factor * rng.uniform(0.88, 1.15)


def _price(rng: random.Random, row: Row, value: float) -> int:
    if row["transaction_type"] == "sale":
        return max(50_000, round(value, -3))
    monthly_yield = 0.0062 if row["property_type"] == "studio" else 0.0047  # small units rent for more
    rent = value * monthly_yield * rng.uniform(0.9, 1.1) * (1.15 if row["furnished"] else 1.0)
    return max(600, round(rent / 50) * 50)


def _condo_fee(rng: random.Random, row: Row) -> int:
    ptype = row["property_type"]
    if ptype == "land" or (ptype == "house" and rng.random() < 0.7):
        return 0  # street houses and land have no condominium
    fee = row["usable_area_m2"] * rng.uniform(7.0, 13.0) + len(row["amenities"]) * 35
    return round(fee / 10) * 10


def _text(rng: random.Random, row: Row) -> tuple[str, str]:
    ptype, beds = row["property_type"], row["bedrooms"]
    kind = _TYPE_PT[ptype]
    deal = "à venda" if row["transaction_type"] == "sale" else "para alugar"
    area = f"{row['usable_area_m2']:.0f} m²"
    rooms = f" com {beds} {'quarto' if beds == 1 else 'quartos'}" if beds and ptype != "studio" else ""
    title = f"{kind}{rooms} {deal}, {area} — {row['neighbourhood']}, {row['city']}"
    opener = rng.choice(
        (
            f"{kind} {deal} no bairro {row['neighbourhood']}, em {row['city']}/{row['state']}.",
            f"Excelente {kind.lower()} em {row['neighbourhood']}, {row['city']}.",
            f"Oportunidade: {kind.lower()} bem localizado em {row['neighbourhood']}.",
        )
    )
    parts = [opener, f"São {area} de área útil"]
    if beds:
        parts[-1] += f", {beds} {'quarto' if beds == 1 else 'quartos'}"
        if row["suites"]:
            parts[-1] += f" ({row['suites']} {'suíte' if row['suites'] == 1 else 'suítes'})"
    if row["parking_spaces"]:
        parts[-1] += f" e {row['parking_spaces']} {'vaga' if row['parking_spaces'] == 1 else 'vagas'}"
    parts[-1] += "."
    if row["amenities"]:
        parts.append("Conta com " + ", ".join(_AMENITY_PT[a] for a in row["amenities"]) + ".")
    if row["furnished"]:
        parts.append("Imóvel mobiliado, pronto para morar.")
    if row["pet_friendly"]:
        parts.append("Aceita animais de estimação.")
    parts.append(rng.choice(("Próximo a comércio e transporte.", "Rua tranquila.", "Agende sua visita!")))
    return title, " ".join(parts)


def _base_row(
    rng: random.Random, listing_id: int, tx: str, city: City, nbh: Neighbourhood, ptype: str
) -> Row:
    row: Row = {"id": listing_id, "transaction_type": tx, "property_type": ptype}
    row["city"], row["state"], row["neighbourhood"] = city.name, city.state, nbh.name
    row["street"] = rng.choice(_STREETS)
    row["number"] = str(rng.randint(10, 3200))
    row["cep"] = f"{nbh.cep_prefix}-{rng.randint(0, 999):03d}"
    # Jitter of ~400 m around the neighbourhood centre, capped so listings stay in the neighbourhood.
    row["latitude"] = round(nbh.latitude + max(-0.012, min(0.012, rng.gauss(0, 0.004))), 6)
    row["longitude"] = round(nbh.longitude + max(-0.012, min(0.012, rng.gauss(0, 0.004))), 6)
    row.update(_layout(rng, ptype))
    row["year_built"] = None if ptype == "land" else min(2025, int(2026 - rng.expovariate(1 / 18)))
    row["amenities"] = _amenities(rng, ptype, nbh)
    furnished_p = (0.35 if tx == "rent" else 0.08) + (0.3 if ptype == "studio" else 0.0)
    row["furnished"] = ptype not in ("land", "commercial") and rng.random() < furnished_p
    row["pet_friendly"] = ptype not in ("land", "commercial") and rng.random() < 0.6
    roll = rng.random()
    closed = "sold" if tx == "sale" else "rented"
    row["status"] = "available" if roll < 0.9 else ("reserved" if roll < 0.95 else closed)
    created = CREATED_FROM + timedelta(seconds=rng.randint(0, 330 * 86_400))
    row["created_at"] = created
    row["updated_at"] = created + timedelta(seconds=rng.randint(0, 30 * 86_400))
    return row


def _finish(rng: random.Random, row: Row, nbh: Neighbourhood, price_range: tuple[int, int] | None) -> Row:
    value = _market_value(rng, row, nbh)
    price = _price(rng, row, value)
    if price_range is not None:  # scenario listings: keep the price inside the searched range
        low, high = price_range
        step = 1_000 if row["transaction_type"] == "sale" else 50
        price = max(low, min(high, price))
        price -= price % step
        value = price if row["transaction_type"] == "sale" else price / 0.005
    row["price"] = price
    row["condo_fee"] = _condo_fee(rng, row)
    row["iptu_yearly"] = round(value * rng.uniform(0.003, 0.007) / 10) * 10
    row["title"], row["description"] = _text(rng, row)
    return row


# -- scenario templates -------------------------------------------------------------------------------


def _curitiba_family(rng: random.Random, listing_id: int) -> Row:
    """Sale apartment, 3 bedrooms, Água Verde or Portão, R$ 450–650 k."""
    city = CITY_BY_NAME["Curitiba"]
    nbh = city.neighbourhood(rng.choice(("Água Verde", "Portão")))
    row = _base_row(rng, listing_id, "sale", city, nbh, "apartment")
    row.update(_layout(rng, "apartment", bedrooms=3))
    _resize(rng, row, rng.randint(64, 82))
    return _finish(rng, row, nbh, (450_000, 649_000))


def _sp_studio(rng: random.Random, listing_id: int) -> Row:
    """Sale studio in São Paulo, R$ 220–400 k."""
    city = CITY_BY_NAME["São Paulo"]
    nbh = city.neighbourhood(rng.choice(("Butantã", "Tatuapé", "Vila Mariana", "Perdizes", "Pinheiros")))
    row = _base_row(rng, listing_id, "sale", city, nbh, "studio")
    _resize(rng, row, rng.randint(21, 30))
    return _finish(rng, row, nbh, (220_000, 399_000))


def _bh_pampulha_rent(rng: random.Random, listing_id: int) -> Row:
    """Pet-friendly studio or 1-bedroom flat for rent near UFMG (Pampulha), R$ 1,000–1,800."""
    city = CITY_BY_NAME["Belo Horizonte"]
    nbh = city.neighbourhood("Pampulha")
    ptype = rng.choice(("studio", "apartment"))
    row = _base_row(rng, listing_id, "rent", city, nbh, ptype)
    if ptype == "apartment":
        row.update(_layout(rng, "apartment", bedrooms=1))
    row["pet_friendly"] = True
    return _finish(rng, row, nbh, (1_000, 1_800))


def _rio_penthouse(rng: random.Random, listing_id: int) -> Row:
    """Sale penthouse with pool, 4–5 bedrooms, Leblon or Ipanema, R$ 5–8 M."""
    city = CITY_BY_NAME["Rio de Janeiro"]
    nbh = city.neighbourhood(rng.choice(("Leblon", "Ipanema")))
    row = _base_row(rng, listing_id, "sale", city, nbh, "penthouse")
    row.update(_layout(rng, "penthouse", bedrooms=rng.choice((4, 5))))
    if "pool" not in row["amenities"]:
        row["amenities"] = [a for a in AMENITIES if a == "pool" or a in row["amenities"]]
    return _finish(rng, row, nbh, (5_000_000, 8_000_000))


def _floripa_rent(rng: random.Random, listing_id: int) -> Row:
    """Furnished 2-bedroom apartment for rent in Florianópolis, R$ 3,000–4,500."""
    city = CITY_BY_NAME["Florianópolis"]
    nbh = city.neighbourhood(rng.choice(("Centro", "Trindade", "Agronômica", "Itacorubi", "Campeche")))
    row = _base_row(rng, listing_id, "rent", city, nbh, "apartment")
    row.update(_layout(rng, "apartment", bedrooms=2))
    row["furnished"] = True
    return _finish(rng, row, nbh, (3_000, 4_500))


TEMPLATES: tuple[Callable[[random.Random, int], Row], ...] = (
    _curitiba_family,
    _sp_studio,
    _bh_pampulha_rent,
    _rio_penthouse,
    _floripa_rent,
)


def _random_listing(rng: random.Random, listing_id: int) -> Row:
    city = rng.choices(CITIES, weights=[c.weight for c in CITIES])[0]
    nbh = rng.choice(city.neighbourhoods)
    tx = "sale" if rng.random() < 0.6 else "rent"
    ptype = _weighted(rng, _TYPE_WEIGHTS)
    if ptype == "land":
        tx = "sale"  # nobody rents a plot in this catalog
    return _finish(rng, _base_row(rng, listing_id, tx, city, nbh, ptype), nbh, None)


def generate_listings(count: int, seed: int = 42, first_id: int = 1) -> Iterator[Row]:
    """``count`` listings (ids ``first_id``...), identical for the same ``seed``."""
    rng = random.Random(seed)
    for offset in range(count):
        listing_id = first_id + offset
        if offset % TEMPLATE_EVERY == 0:
            row = TEMPLATES[(offset // TEMPLATE_EVERY) % len(TEMPLATES)](rng, listing_id)
            row["status"] = "available"  # scenario listings must be visitable
        else:
            row = _random_listing(rng, listing_id)
        yield row
