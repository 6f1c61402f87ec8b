"""Bad parameters give 422 with a message naming the parameter; unknown ids give 404."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from convoload_demo.realestate.catalog import CatalogClient, CatalogError, CatalogServer

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"near": "abc", "radius_km": 2}, "near"),
        ({"near": "-23.5;-46.6", "radius_km": 2}, "near"),
        ({"near": "-123.5,-46.6", "radius_km": 2}, "near"),
        ({"near": "-23.5,-46.6"}, "radius_km"),
        ({"radius_km": 3}, "near"),
        ({"price_min": 900, "price_max": 100}, "price_max"),
        ({"area_min": 90, "area_max": 10}, "area_min"),
        ({"price_min": -1}, "price_min"),
        ({"bedrooms_min": "many"}, "bedrooms_min"),
        ({"property_type": "castle"}, "property_type"),
        ({"transaction_type": "swap"}, "transaction_type"),
        ({"amenities": "helipad"}, "amenities"),
        ({"sort": "cheapest"}, "sort"),
        ({"status": "gone"}, "status"),
        ({"page": 0}, "page"),
        ({"page_size": 101}, "page_size"),
        ({"furnished": "maybe"}, "furnished"),
        ({"colour": "blue"}, "colour"),  # unknown parameters are rejected, not silently ignored
    ],
)
def test_bad_search_parameters_are_422_naming_the_parameter(
    client: CatalogClient, params: dict[str, Any], named: str
) -> None:
    with pytest.raises(CatalogError) as caught:
        client.search(**params)
    assert caught.value.status == 422
    assert named in caught.value.detail
    assert isinstance(caught.value.body["detail"], list)


def test_unknown_property_is_404(client: CatalogClient) -> None:
    with pytest.raises(CatalogError) as caught:
        client.get_property(999)
    assert caught.value.status == 404
    assert caught.value.body == {"detail": "property 999 not found"}
    with pytest.raises(CatalogError) as caught:
        client.availability(999, "2030-01-07")
    assert (caught.value.status, caught.value.detail) == (404, "property 999 not found")


def test_unknown_visit_is_404(client: CatalogClient) -> None:
    with pytest.raises(CatalogError) as caught:
        client.get_visit(424242)
    assert (caught.value.status, caught.value.detail) == (404, "visit 424242 not found")


@pytest.mark.parametrize(
    "path", ["/api/properties/abc", "/api/properties/0", "/api/properties/99999999999999"]
)
def test_bad_property_ids_are_422(fixture_server: CatalogServer, path: str) -> None:
    response = httpx.get(fixture_server.url + path, trust_env=False)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "property_id"]


def test_bad_availability_date_is_422(client: CatalogClient) -> None:
    with pytest.raises(CatalogError) as caught:
        client.availability(1, "2030-02-30")
    assert caught.value.status == 422
    assert "date" in caught.value.detail


def test_openapi_spec_is_served(fixture_server: CatalogServer) -> None:
    spec = httpx.get(fixture_server.url + "/openapi.json", trust_env=False).json()
    assert {"/health", "/api/properties/search", "/api/properties/{property_id}", "/api/visits"} <= set(
        spec["paths"]
    )
    search_params = {p["name"] for p in spec["paths"]["/api/properties/search"]["get"]["parameters"]}
    assert {"city", "neighbourhood", "near", "radius_km", "amenities", "sort", "page_size"} <= search_params
