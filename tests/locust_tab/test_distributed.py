"""The tabs on a distributed master: the numbers it merges from its worker's records, the transcripts
from the journal it writes from the lines the worker ships."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import Processes, free_consecutive_ports, wait_until, write
from tests.locust_tab.ui import CONFIG, start_locust

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_master_tab_shows_what_its_worker_ran(tmp_path, processes: Processes):
    master_port = free_consecutive_ports(1)
    master, base = start_locust(
        processes, tmp_path, "--master", "--master-bind-host=127.0.0.1", f"--master-bind-port={master_port}"
    )
    config = write(tmp_path / "c.yaml", CONFIG)
    processes.locust(
        "--worker",
        "--master-host=127.0.0.1",
        f"--master-port={master_port}",
        "--convoload-config",
        str(config),
        "--runs-dir",
        str(tmp_path / "worker-runs"),
        cwd=tmp_path,
    )
    client = httpx.Client(base_url=base, timeout=10)
    wait_until(lambda: client.get("/stats/requests").json().get("worker_count") == 1, "the worker to connect")
    assert client.post("/swarm", data={"user_count": 2, "spawn_rate": 2}).json()["success"]

    def tabs() -> dict[str, list[dict]]:
        return {t["key"]: t["data"] for t in client.get("/stats/requests").json().get("extended_stats", [])}

    def talliz_failed_and_shown() -> dict[str, list[dict]] | None:
        found = tabs()
        numbers = {row["persona"]: row for row in found.get("convoload-conversations", [])}
        transcripts = found.get("convoload-transcripts", [])
        if "Talliz" in numbers and "Edman" in numbers and transcripts:
            return found
        return None

    found = wait_until(talliz_failed_and_shown, "the master's tab with its worker's conversations")
    numbers = {row["persona"]: row for row in found["convoload-conversations"]}
    assert numbers["Talliz"]["goal_rate"] == "0.0%" and numbers["Edman"]["goal_rate"] == "100.0%"
    first = found["convoload-transcripts"][0]
    assert first["persona"] == "Talliz" and first["outcome"] == "max_iterations"
    assert "#9 user:" in first["transcript"]
    # The master's own run folder (not the worker's copy) is the one served.
    journal = client.get("/convoload/journal", follow_redirects=True)
    assert journal.status_code == 200 and first["session"] in journal.text
    assert str(tmp_path / "runs") in client.get("/convoload/conversations").text
    assert master.process.poll() is None
