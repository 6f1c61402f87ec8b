"""Fixtures of the security tests: the faulty target (impostor callbacks), the processes a test starts."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.conftest import faulty, faulty_server  # noqa: F401 - the fixtures, for this folder
from tests.helpers import Processes


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    """Processes started for one test; every one still alive (and its children) is killed at teardown."""
    started = Processes(tmp_path)
    try:
        yield started
    finally:
        started.cleanup()
