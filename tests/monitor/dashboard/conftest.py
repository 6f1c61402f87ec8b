"""A seeded monitor store and the dashboard serving it, as a real subprocess on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from convoload.monitor.dashboard import DashboardSettings
from convoload.monitor.dashboard.launcher import DashboardServer
from tests.monitor.dashboard.sample import Seeded, seed

TOKEN = "s3cret-dashboard-token-Zq9"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    data = seed(tmp_path_factory.mktemp("dashboard"))
    yield data
    data.store.close()


def settings_for(data: Seeded, **overrides: Any) -> DashboardSettings:
    # A long stale limit: the seeded samples must read as fresh however slow the machine is.
    values: dict[str, Any] = {"store_url": data.url, "runs_root": data.runs_root, "stale_after_s": 3600.0}
    values.update(overrides)
    return DashboardSettings(**values)


@pytest.fixture(scope="module")
def dashboard(seeded: Seeded) -> Iterator[DashboardServer]:
    with DashboardServer(settings_for(seeded)) as server:
        yield server


@pytest.fixture(scope="module")
def secured(seeded: Seeded) -> Iterator[DashboardServer]:
    with DashboardServer(settings_for(seeded, token=TOKEN)) as server:
        yield server


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
