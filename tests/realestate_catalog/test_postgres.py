"""The catalog on PostgreSQL by URL: a real server started for the test (skipped where none is installed)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import create_engine, text

from convoload_demo.realestate.catalog import CatalogClient, CatalogError, CatalogServer, CatalogSettings
from tests.helpers import needs_postgres
from tests.realestate_catalog.helpers import assert_old_visits_table_migrates

pytestmark = pytest.mark.e2e

pytest.importorskip("psycopg")


@pytest.fixture(scope="module")
def postgres_url(postgres_server: str) -> str:
    return f"{postgres_server}/postgres"


def next_weekday_iso(hour: int) -> str:
    day = date.today() + timedelta(days=2)
    while day.weekday() == 6:  # Sunday: closed
        day += timedelta(days=1)
    return f"{day.isoformat()}T{hour:02d}:00"


@pytest.mark.slow
@needs_postgres
def test_catalog_runs_on_postgres_by_url(postgres_url: str) -> None:
    with (
        CatalogServer(CatalogSettings(listings=2_000, seed=3, database_url=postgres_url)) as server,
        CatalogClient(server.url) as client,
    ):
        assert client.health()["listings"] == 2_000
        found = client.search(
            city="curitiba",
            neighbourhood=["Água Verde", "Portão"],
            transaction_type="sale",
            property_type=["apartment"],
            bedrooms_min=3,
            price_max=650_000,
            page_size=5,
        )
        assert found["total"] >= 20 and len(found["items"]) == 5
        assert all(item["price"] <= 650_000 and item["bedrooms"] >= 3 for item in found["items"])
        prices = [item["price"] for item in found["items"]]
        assert prices == sorted(prices)
        near = client.search(near="-19.8664,-43.9711", radius_km=3, transaction_type="rent", page_size=3)
        assert near["total"] > 0

        listing_id = found["items"][0]["id"]
        when = next_weekday_iso(10)
        visit = client.book_visit(listing_id, when, "Ana Souza", "+55 41 99999-0000", "ana@example.com")
        assert client.get_visit(visit["id"])["code"] == visit["code"]
        with pytest.raises(CatalogError) as conflict:
            client.book_visit(listing_id, when, "Bia Lima", "+55 41 98888-0000", "bia@example.com")
        assert conflict.value.status == 409 and conflict.value.body["alternatives"]

    # A second server on the same database keeps the listings and the visit instead of reseeding.
    with (
        CatalogServer(CatalogSettings(listings=10, database_url=postgres_url)) as again,
        CatalogClient(again.url) as client,
    ):
        assert client.health()["listings"] == 2_000
        assert client.get_visit(visit["id"])["visitor_name"] == "Ana Souza"


@needs_postgres
def test_a_postgres_database_from_before_released_visits_is_migrated(postgres_server: str) -> None:
    admin = create_engine(f"{postgres_server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("DROP DATABASE IF EXISTS catalog_migration"))
        conn.execute(text("CREATE DATABASE catalog_migration"))
    admin.dispose()
    assert_old_visits_table_migrates(f"{postgres_server}/catalog_migration")
