"""Servers the security tests attack through: the faulty target (its impostor callbacks)."""

from collections.abc import Iterator

import pytest

from convoload.demo.faulty import FaultyServer, FaultyServerSettings
from tests.faults.harness import GOAL_TURN


@pytest.fixture(scope="session")
def faulty_server() -> Iterator[FaultyServer]:
    with FaultyServer(FaultyServerSettings(goal_turn=GOAL_TURN)) as server:
        yield server


@pytest.fixture
def faulty(faulty_server: FaultyServer) -> FaultyServer:
    """The faulty target with an empty plan and fresh counters; each test sets its own faults."""
    faulty_server.set_faults([])
    return faulty_server
