"""The run's files served by Locust's web UI: only files of the runs of this process, inside their folder."""

from __future__ import annotations

import pytest

from tests.helpers import Processes, exchange, run_dirs, write
from tests.locust_tab.ui import start_locust

pytestmark = pytest.mark.e2e


def status_of(port: int, path: str) -> tuple[int, bytes]:
    """The status and body of GET `path`, sent as written (no client tidies its dots away); a redirect
    (Werkzeug merges repeated slashes) followed, to where it leads."""
    answer = exchange(port, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if status in (301, 302, 307, 308):
        (location,) = [
            line.split(b":", 1)[1].strip()
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"location:")
        ]
        return status_of(
            port,
            "/" + location.decode().split("/", 3)[-1] if location.startswith(b"http") else location.decode(),
        )
    return status, body


def test_files_are_confined_to_the_runs_of_the_process(tmp_path, processes: Processes):
    _, base = start_locust(processes, tmp_path)
    port = int(base.rsplit(":", 1)[1])
    write(tmp_path / "secret.txt", "not for the web\n")
    status, page = status_of(port, "/convoload/conversations")
    assert status == 200 and b"Conversations of run" in page
    (run_dir,) = run_dirs(tmp_path / "runs")
    run = f"/convoload/runs/{run_dir.name}"
    status, meta = status_of(port, f"{run}/run.json")
    assert status == 200 and run_dir.name.encode() in meta
    for sneaky in (
        "../../secret.txt",
        "..%2F..%2Fsecret.txt",
        "%2E%2E/%2E%2E/secret.txt",
        "%2Fetc%2Fpasswd",
        "/etc/passwd",
        "conversations/../../secret.txt",
    ):
        status, body = status_of(port, f"{run}/{sneaky}")
        assert status == 404, (sneaky, status)
        assert b"not for the web" not in body and b"root:" not in body
    assert status_of(port, "/convoload/runs/another-run/run.json")[0] == 404
    # No report before a test has stopped: said, not served.
    status, body = status_of(port, "/convoload/report")
    assert status == 404 and b"written when its test stops" in body
