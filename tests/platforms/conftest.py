"""What platform tests share: an example bot started as a real process on loopback, and a run config that
points convoload's emulated platform at it."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import REPO, Processes, Started, free_port, write

BOTS = REPO / "examples" / "bots"


@pytest.fixture
def start_bot(processes: Processes) -> Callable[..., tuple[Started, int]]:
    """Start `examples/bots/<platform>/bot.py` on a free loopback port; returns it and its port."""

    def start(platform: str, **env: str) -> tuple[Started, int]:
        port = free_port()
        folder = BOTS / platform
        bot = processes.start(
            [sys.executable, str(folder / "bot.py"), "--port", str(port)], cwd=folder, **env
        )
        bot.wait_for_output(f"ready on {port}")
        return bot, port

    return start


def config_file(tmp_path: Path, text: str) -> Path:
    return write(tmp_path / "convoload.yaml", text)
