"""The generated catalog: reproducible, realistic, and rich enough for the assistant scenarios."""

from __future__ import annotations

from statistics import median
from typing import Any

import pytest

from convoload_demo.realestate.catalog import CatalogClient
from convoload_demo.realestate.catalog.generator import generate_listings
from convoload_demo.realestate.catalog.geo import CITY_BY_NAME, haversine_km
from convoload_demo.realestate.vocabulary import AMENITIES, PROPERTY_TYPES, STATUSES

from .helpers import GENERATED_LISTINGS, GENERATED_SEED

SCENARIOS: dict[str, dict[str, Any]] = {
    "curitiba family apartment": {
        "transaction_type": "sale",
        "property_type": "apartment",
        "bedrooms_min": 3,
        "city": "Curitiba",
        "neighbourhood": ["Água Verde", "Portão"],
        "price_max": 650_000,
    },
    "sao paulo studio": {
        "transaction_type": "sale",
        "property_type": "studio",
        "city": "São Paulo",
        "price_max": 400_000,
    },
    "pampulha student rental": {
        "transaction_type": "rent",
        "property_type": ["studio", "apartment"],
        "city": "Belo Horizonte",
        "neighbourhood": "Pampulha",
        "price_max": 1_800,
        "pet_friendly": True,
    },
    "rio penthouse": {
        "transaction_type": "sale",
        "property_type": "penthouse",
        "city": "Rio de Janeiro",
        "neighbourhood": ["Leblon", "Ipanema"],
        "bedrooms_min": 4,
        "price_max": 8_000_000,
        "amenities": "pool",
    },
    "florianopolis furnished rental": {
        "transaction_type": "rent",
        "property_type": "apartment",
        "city": "Florianópolis",
        "bedrooms_min": 2,
        "price_max": 4_500,
        "furnished": True,
    },
}


@pytest.fixture(scope="module")
def sample() -> list[dict[str, Any]]:
    return list(generate_listings(6_000, seed=11))


@pytest.mark.e2e
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_searches_have_at_least_20_available_matches(generated: CatalogClient, name: str) -> None:
    page = generated.search(**SCENARIOS[name], page_size=100)
    assert page["total"] >= 20
    assert all(item["status"] == "available" for item in page["items"])


@pytest.mark.parametrize("seed", [1, 99, 2024])
def test_scenarios_hold_for_any_seed_by_construction(seed: int) -> None:
    rows = list(generate_listings(2_000, seed=seed))
    for name, query in SCENARIOS.items():
        assert sum(1 for row in rows if _matches(row, query)) >= 20, name


def _matches(row: dict[str, Any], query: dict[str, Any]) -> bool:
    def listed(value: Any) -> list[Any]:
        return value if isinstance(value, list) else [value]

    return (
        row["status"] == "available"
        and row["transaction_type"] == query["transaction_type"]
        and row["property_type"] in listed(query["property_type"])
        and row["city"] == query["city"]
        and ("neighbourhood" not in query or row["neighbourhood"] in listed(query["neighbourhood"]))
        and row["bedrooms"] >= query.get("bedrooms_min", 0)
        and row["price"] <= query["price_max"]
        and all(a in row["amenities"] for a in listed(query.get("amenities", [])))
        and all(row[flag] for flag in ("pet_friendly", "furnished") if query.get(flag))
    )


def test_same_seed_same_catalog_other_seed_other_catalog() -> None:
    assert list(generate_listings(500, seed=3)) == list(generate_listings(500, seed=3))
    assert list(generate_listings(500, seed=3)) != list(generate_listings(500, seed=4))


@pytest.mark.e2e
def test_server_serves_the_seeded_catalog(generated: CatalogClient) -> None:
    assert generated.health() == {"status": "ok", "listings": GENERATED_LISTINGS}
    expected = list(generate_listings(5, seed=GENERATED_SEED))
    for row in expected:
        served = generated.get_property(row["id"])
        keys = ("title", "description", "price", "city", "neighbourhood", "amenities", "latitude", "bedrooms")
        assert {k: served[k] for k in keys} == {k: row[k] for k in keys}


def test_values_use_the_vocabulary(sample: list[dict[str, Any]]) -> None:
    assert {row["property_type"] for row in sample} == set(PROPERTY_TYPES)
    assert {row["status"] for row in sample} == set(STATUSES)
    assert all(set(row["amenities"]) <= set(AMENITIES) for row in sample)
    available = sum(row["status"] == "available" for row in sample) / len(sample)
    assert 0.85 <= available <= 0.95
    for row in sample:
        assert row["state"] == CITY_BY_NAME[row["city"]].state
        assert row["cep"][5] == "-" and len(row["cep"]) == 9
        assert row["suites"] <= row["bedrooms"]
        assert row["usable_area_m2"] <= row["total_area_m2"]
        assert row["updated_at"] >= row["created_at"]


def test_sale_prices_dwarf_rents(sample: list[dict[str, Any]]) -> None:
    sales = [row["price"] for row in sample if row["transaction_type"] == "sale"]
    rents = [row["price"] for row in sample if row["transaction_type"] == "rent"]
    assert min(sales) >= 50_000 and max(rents) < 100_000
    assert 100 <= median(sales) / median(rents) <= 400  # a monthly rent is ~0.3–0.7 % of the value


@pytest.mark.parametrize(
    ("where", "low", "high"),
    [
        (lambda r: r["neighbourhood"] == "Leblon" and r["property_type"] == "penthouse",
         5_000_000, 15_000_000),
        (lambda r: r["city"] == "Curitiba" and r["property_type"] == "apartment" and r["bedrooms"] == 3,
         450_000, 900_000),
        (lambda r: r["neighbourhood"] == "Pampulha" and r["property_type"] == "studio", 1_200, 2_500),
        (lambda r: r["city"] == "Florianópolis" and r["property_type"] == "apartment" and r["bedrooms"] == 2
         and r["furnished"], 3_000, 5_000),
    ],
)  # fmt: skip
def test_typical_prices_match_the_market(
    sample: list[dict[str, Any]], where: Any, low: int, high: int
) -> None:
    # Sale for the first two, rent for the others: the median of the matching listings is in the range.
    wanted = "sale" if low >= 100_000 else "rent"
    prices = [row["price"] for row in sample if row["transaction_type"] == wanted and where(row)]
    assert len(prices) >= 20
    assert low <= median(prices) <= high


def test_coordinates_are_in_brazil_near_their_neighbourhood(sample: list[dict[str, Any]]) -> None:
    for row in sample:
        assert -34 < row["latitude"] < 6 and -74 < row["longitude"] < -34
        city = CITY_BY_NAME[row["city"]]
        nbh = city.neighbourhood(row["neighbourhood"])
        assert haversine_km(row["latitude"], row["longitude"], nbh.latitude, nbh.longitude) < 2.5
        assert haversine_km(row["latitude"], row["longitude"], *city.centre) < 30
