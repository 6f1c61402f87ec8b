"""Fixtures of the dashboard tests; the seeded store and its dashboards are in tests/fixtures/dashboard.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from convoload.monitor.dashboard import DashboardSettings
from convoload.monitor.dashboard.launcher import DashboardServer
from tests.monitor.dashboard.sample import Seeded, seed


@pytest.fixture
def start_dashboard() -> Iterator[Callable[[DashboardSettings], DashboardServer]]:
    """Start more dashboards in one test; all are stopped at its end."""
    servers: list[DashboardServer] = []

    def start(settings: DashboardSettings) -> DashboardServer:
        server = DashboardServer(settings).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def fresh_store(tmp_path: Path) -> Iterator[Seeded]:
    """A seeded store of the test's own, for tests that change it."""
    data = seed(tmp_path / "store")
    yield data
    data.store.close()
