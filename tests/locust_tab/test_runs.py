"""The tabs follow the run: each test started from the web UI is a run of its own, and the files of a
stopped one stay downloadable from the process."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import Processes, run_dirs, wait_until
from tests.locust_tab.ui import start_locust

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_tabs_follow_each_web_ui_test(tmp_path, processes: Processes):
    locust, base = start_locust(processes, tmp_path, "--stop-timeout", "0")
    client = httpx.Client(base_url=base, timeout=10)
    runs = tmp_path / "runs"

    def conversations() -> int:
        found = {t["key"]: t["data"] for t in client.get("/stats/requests").json().get("extended_stats", [])}
        total = [r for r in found.get("convoload-conversations", []) if r["persona"] == "all personas"]
        return total[0]["conversations"] if total else 0

    assert client.post("/swarm", data={"user_count": 2, "spawn_rate": 2}).json()["success"]
    wait_until(lambda: conversations() >= 3, "conversations of the first test in the tab")
    assert client.post("/stop").json()["success"]
    (first,) = wait_until(
        lambda: [d for d in run_dirs(runs) if (d / "report.html").is_file()], "the first test's report"
    )
    report = client.get("/convoload/report", follow_redirects=True)
    assert report.status_code == 200 and report.url.path == f"/convoload/runs/{first.name}/report.html"
    assert "text/html" in report.headers["content-type"] and first.name in report.text

    assert client.post("/swarm", data={"user_count": 2, "spawn_rate": 2}).json()["success"]

    def page_of_a_new_run() -> str | None:
        page = client.get("/convoload/conversations").text
        return None if f"Conversations of run {first.name}</h1>" in page else page

    page = wait_until(page_of_a_new_run, "the page to show the second test's run")
    (second,) = [d for d in run_dirs(runs) if d != first]
    assert f"Conversations of run {second.name}" in page
    # The first test's files stay reachable from the page's list of earlier runs.
    assert f'href="/convoload/runs/{first.name}/report.html"' in page
    assert client.get(f"/convoload/runs/{first.name}/report.html").status_code == 200
    assert client.get(f"/convoload/runs/{first.name}/journal.jsonl").status_code == 200
    assert locust.process.poll() is None
