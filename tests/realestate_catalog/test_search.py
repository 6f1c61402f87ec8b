"""Search filters, sorting and pagination against the hand-made catalog (expected ids worked out by hand)."""

from __future__ import annotations

from typing import Any

import pytest

from convoload_demo.realestate.catalog import CatalogClient, CatalogServer, CatalogSettings

from .helpers import FIXTURE_LISTINGS

pytestmark = pytest.mark.e2e

AVAILABLE = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14]  # 12 is sold, 15 reserved


def ids(client: CatalogClient, **params: Any) -> list[int]:
    page = client.search(page_size=100, **params)
    found = [item["id"] for item in page["items"]]
    assert page["total"] == len(found)
    return found


def id_set(client: CatalogClient, **params: Any) -> set[int]:
    return set(ids(client, **params))


def test_health_counts_the_fixture_listings(client: CatalogClient) -> None:
    assert client.health() == {"status": "ok", "listings": len(FIXTURE_LISTINGS)}


def test_default_search_returns_available_listings_only(client: CatalogClient) -> None:
    assert id_set(client) == set(AVAILABLE)
    assert id_set(client, status="sold") == {12}
    assert id_set(client, status="reserved") == {15}
    assert id_set(client, status="rented") == set()


@pytest.mark.parametrize(
    ("city", "expected"),
    [
        ("Curitiba", {1, 2, 3, 4, 13}),
        ("CURITIBA", {1, 2, 3, 4, 13}),
        ("sao paulo", {5, 6, 7, 14}),
        ("São Paulo", {5, 6, 7, 14}),
        ("florianopolis", {11}),
        ("Curi", set()),  # exact city, not a prefix
    ],
)
def test_city_is_case_and_accent_insensitive_exact(
    client: CatalogClient, city: str, expected: set[int]
) -> None:
    assert id_set(client, city=city) == expected


def test_neighbourhoods_are_any_of(client: CatalogClient) -> None:
    assert id_set(client, neighbourhood=["Água Verde", "portao"]) == {1, 2, 4}
    assert id_set(client, neighbourhood="Leblon") == {8}


def test_transaction_and_property_types(client: CatalogClient) -> None:
    assert id_set(client, transaction_type="rent") == {4, 7, 10, 11}
    assert id_set(client, property_type=["studio", "penthouse"]) == {5, 6, 8, 9, 10}
    assert id_set(client, transaction_type="rent", property_type="studio") == {10}


def test_price_range(client: CatalogClient) -> None:
    assert id_set(client, price_min=1_000_000) == {3, 8, 9}
    assert id_set(client, price_max=2_500) == {4, 10}
    assert id_set(client, price_min=600_000, price_max=700_000) == {1, 2, 13}


def test_room_minimums(client: CatalogClient) -> None:
    assert id_set(client, bedrooms_min=4) == {3, 8, 9}
    assert id_set(client, bathrooms_min=3) == {3, 8, 9}
    assert id_set(client, parking_min=3) == {3, 9}
    assert id_set(client, bedrooms_min=3, parking_min=2) == {2, 3, 8, 9}


def test_usable_area_range(client: CatalogClient) -> None:
    assert id_set(client, area_min=100) == {3, 8, 9}
    assert id_set(client, area_max=30) == {5, 10}
    assert id_set(client, area_min=60, area_max=70) == {4, 7, 11}


def test_amenities_are_all_required(client: CatalogClient) -> None:
    assert id_set(client, amenities="pool") == {1, 3, 7, 8, 9}
    assert id_set(client, amenities=["pool", "gym"]) == {1, 7, 9}
    assert id_set(client, amenities=["gym", "coworking"]) == {5}


def test_boolean_flags(client: CatalogClient) -> None:
    assert id_set(client, furnished=True) == {4, 5, 7, 11}
    assert id_set(client, furnished=False) == {1, 2, 3, 6, 8, 9, 10, 13, 14}
    assert id_set(client, pet_friendly=True) == {1, 3, 4, 6, 7, 8, 10}
    assert id_set(client, furnished=True, pet_friendly=True) == {4, 7}


def test_radius_uses_true_distance_not_just_the_box(client: CatalogClient) -> None:
    pinheiros = "-23.567,-46.692"
    assert id_set(client, near=pinheiros, radius_km=1.0) == {5, 7}  # 14 is in the box, 1.24 km away
    assert id_set(client, near=pinheiros, radius_km=1.3) == {5, 6, 7, 14}  # Vila Madalena is 1.22 km
    assert id_set(client, near=pinheiros, radius_km=1.3, transaction_type="rent") == {7}


def test_combined_scenario_filters(client: CatalogClient) -> None:
    params = {"city": "curitiba", "transaction_type": "sale", "property_type": "apartment"}
    assert id_set(client, **params, bedrooms_min=3, price_max=650_000) == {1, 13}
    assert id_set(client, **params, neighbourhood=["Água Verde", "Portão"], amenities="gym") == {1, 2}


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        (None, [1, 13, 2, 3]),  # price_asc by default; equal prices by id
        ("price_asc", [1, 13, 2, 3]),
        ("price_desc", [3, 2, 1, 13]),
        ("area_desc", [3, 2, 13, 1]),
        ("newest", [13, 3, 2, 1]),
    ],
)
def test_sort_orders(client: CatalogClient, sort: str | None, expected: list[int]) -> None:
    assert ids(client, city="Curitiba", transaction_type="sale", sort=sort) == expected


def test_pagination_keeps_total_and_order(client: CatalogClient) -> None:
    pages = [client.search(page=page, page_size=5) for page in (1, 2, 3, 4)]
    assert [p["total"] for p in pages] == [13, 13, 13, 13]
    assert [p["page"] for p in pages] == [1, 2, 3, 4]
    assert {p["page_size"] for p in pages} == {5}
    assert [[item["id"] for item in p["items"]] for p in pages] == [
        [10, 4, 11, 7, 5],
        [6, 1, 13, 2, 14],
        [3, 8, 9],
        [],
    ]


def test_default_page_size_is_20(client: CatalogClient) -> None:
    page = client.search()
    assert (page["page"], page["page_size"], page["total"], len(page["items"])) == (1, 20, 13, 13)


def test_listing_shape(client: CatalogClient) -> None:
    item = client.get_property(1)
    assert item == client.search(city="Curitiba", transaction_type="sale", page_size=1)["items"][0]
    assert item["amenities"] == ["pool", "gym"]
    assert (item["city"], item["state"], item["neighbourhood"]) == ("Curitiba", "PR", "Água Verde")
    assert (item["furnished"], item["pet_friendly"]) == (False, True)
    assert item["created_at"] == "2025-01-10T00:00:00Z"
    assert set(item) == {
        "id", "title", "description", "transaction_type", "property_type", "status", "price", "condo_fee",
        "iptu_yearly", "bedrooms", "suites", "bathrooms", "parking_spaces", "usable_area_m2", "total_area_m2",
        "furnished", "pet_friendly", "amenities", "street", "number", "neighbourhood", "city", "state", "cep",
        "latitude", "longitude", "year_built", "created_at", "updated_at",
    }  # fmt: skip


def test_existing_listings_are_kept_instead_of_reseeding(fixture_server: CatalogServer) -> None:
    settings = CatalogSettings(listings=500, seed=1, database_url=fixture_server.settings.database_url)
    with CatalogServer(settings) as second, CatalogClient(second.url) as other:
        assert other.health() == {"status": "ok", "listings": len(FIXTURE_LISTINGS)}
        assert other.get_property(8)["neighbourhood"] == "Leblon"
