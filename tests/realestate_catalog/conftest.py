"""Fixtures: catalog servers as real subprocesses on loopback, one hand-made and one generated."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from convoload_demo.realestate.catalog import CatalogClient, CatalogServer, CatalogSettings
from tests.realestate_catalog.helpers import GENERATED_LISTINGS, GENERATED_SEED, build_fixture_db


@pytest.fixture(scope="package")
def fixture_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CatalogServer]:
    """Server over the hand-made catalog (``--listings 0``: nothing generated)."""
    url = build_fixture_db(tmp_path_factory.mktemp("catalog") / "fixture.db")
    with CatalogServer(CatalogSettings(listings=0, database_url=url)) as server:
        yield server


@pytest.fixture(scope="package")
def generated_server() -> Iterator[CatalogServer]:
    """Server over a freshly generated catalog of 2,000 listings (the scenario minimum)."""
    settings = CatalogSettings(listings=GENERATED_LISTINGS, seed=GENERATED_SEED)
    with CatalogServer(settings) as server:
        yield server


@pytest.fixture
def client(fixture_server: CatalogServer) -> Iterator[CatalogClient]:
    with CatalogClient(fixture_server.url) as catalog:
        yield catalog


@pytest.fixture
def generated(generated_server: CatalogServer) -> Iterator[CatalogClient]:
    with CatalogClient(generated_server.url) as catalog:
        yield catalog
