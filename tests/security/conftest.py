"""Fixtures of the security tests: the processes a test starts (the faulty target is `faulty`, in
tests/fixtures/faulty.py)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import Processes


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    """Processes started for one test; every one still alive (and its children) is killed at teardown."""
    started = Processes(tmp_path)
    try:
        yield started
    finally:
        started.cleanup()
