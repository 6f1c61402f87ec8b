"""An emulated platform serves one bot from one process: the bot knows one platform base URL, so a run
on several Locust workers (each serving its own API) is refused before it starts, as bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from convoload.config import load_config
from convoload.errors import ConfigError
from tests.helpers import invoke

EXAMPLE = Path(__file__).parents[2] / "examples" / "bots" / "whatsapp" / "convoload.yaml"
SECRETS = {"WA_APP_SECRET": "s", "WA_TOKEN": "t", "WA_VERIFY_TOKEN": "v", "WA_PHONE_ID": "1"}


@pytest.mark.parametrize("command", ["run", "capacity"])
def test_more_than_one_worker_is_a_one_line_error_naming_the_field(command: str) -> None:
    ran = invoke(command, "-f", str(EXAMPLE), "--workers", "2", env=SECRETS)
    assert ran.returncode == 2, ran.stdout + ran.stderr
    [line] = ran.stderr.strip().splitlines()
    assert str(EXAMPLE) in line and "target.type" in line and "--workers" in line


def test_a_second_locust_worker_refuses_to_serve_the_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    from convoload.platforms.wiring import build_platform_target

    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    config = load_config(EXAMPLE)
    with pytest.raises(ConfigError, match=r"target\.type: whatsapp: the emulated platform serves one bot"):
        build_platform_target(config, worker_index=1)
