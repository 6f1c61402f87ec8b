"""A real `locust` process with convoload's locustfile and its web UI on loopback.

With 9 turns at most, the bundled ticket seller's personas Edman and Kataryna reach the goal (at turn
8) and Talliz never does (it needs 10): every Talliz conversation fails, deterministically.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.helpers import Processes, Started, free_port, wait_until, write

CONFIG = (
    "run: {seed: 3, max_iterations: 9}\ntarget: {type: demo, demo: {reply_delay_s: 0.02, jitter_s: 0.0}}\n"
)


def start_locust(processes: Processes, tmp_path: Path, *args: str) -> tuple[Started, str]:
    config = write(tmp_path / "c.yaml", CONFIG)
    port = free_port()
    locust = processes.locust(
        "--web-host",
        "127.0.0.1",
        "--web-port",
        str(port),
        "--convoload-config",
        str(config),
        "--runs-dir",
        str(tmp_path / "runs"),
        *args,
        cwd=tmp_path,
    )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if locust.process.poll() is not None:
            raise AssertionError(f"locust exited early\n{locust.err()[-3000:]}")
        try:
            return httpx.get(f"{base}/", timeout=5).status_code == 200
        except httpx.TransportError:
            return False

    wait_until(up, "Locust's web UI")
    return locust, base
