"""Real catalog server (3,000 listings, seed 42) shared by the integration tests of this package."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from convoload_demo.realestate.catalog.client import CatalogClient
from convoload_demo.realestate.catalog.launcher import CatalogServer
from convoload_demo.realestate.catalog.settings import CatalogSettings


@pytest.fixture(scope="session")
def catalog_server() -> Iterator[CatalogServer]:
    with CatalogServer(CatalogSettings(listings=3_000, seed=42)) as server:
        yield server


@pytest.fixture
def catalog(catalog_server: CatalogServer) -> Iterator[CatalogClient]:
    with CatalogClient(catalog_server.url) as client:
        yield client
