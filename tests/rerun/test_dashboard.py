"""The monitor's dashboard lists each failed conversation with the command that makes it a test; the
command, run as shown, writes that test."""

from __future__ import annotations

import shlex
from pathlib import Path

import httpx
import pytest

from convoload.monitor.dashboard import DashboardSettings
from convoload.monitor.dashboard.launcher import DashboardServer
from tests.browser import dump_dom, needs_chromium, parse_dom
from tests.helpers import invoke
from tests.rerun.helpers import by_persona, tickets_run

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def watched(tmp_path_factory: pytest.TempPathFactory):
    """A tickets run (Talliz failed) in a runs folder whose results store a dashboard serves."""
    folder = tmp_path_factory.mktemp("watched")
    run_dir = tickets_run(folder)
    runs = run_dir.parent
    settings = DashboardSettings(store_url=f"sqlite:///{runs / 'results.sqlite'}", runs_root=runs)
    with DashboardServer(settings) as server:
        yield run_dir, server


def test_status_lists_failed_conversations_with_their_export_command(watched, tmp_path):
    run_dir, server = watched
    talliz = by_persona(run_dir)["Talliz"]
    status = httpx.get(server.url + "/api/status").json()
    (failed,) = status["failed_conversations"]  # the two that paid are not listed
    assert (failed["session_id"], failed["persona"], failed["outcome"]) == (
        talliz.session_id,
        "Talliz",
        "max_iterations",
    )
    command = shlex.split(failed["export"])
    assert command[:2] == ["convoload", "export"] and "--as" in command and "pytest" in command

    # Run as shown (from anywhere: it names the runs folder), it writes the regression test.
    test_file = tmp_path / "test_talliz.py"
    ran = invoke(*command[1:], "-o", str(test_file), cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert talliz.session_id in test_file.read_text() and "def test_talliz_" in test_file.read_text()


@pytest.mark.browser
@needs_chromium
def test_page_shows_the_export_command_of_each_failed_conversation(watched, tmp_path):
    run_dir, server = watched
    talliz = by_persona(run_dir)["Talliz"]
    dom = parse_dom(dump_dom(server.url + "/", tmp_path))
    (row,) = dom.find_all("tr", data_session=True)
    assert row.attrs["data-session"] == talliz.session_id and row.attrs["data-outcome"] == "max_iterations"
    code = row.find("code", data_export=talliz.session_id)
    expected = f"convoload export {run_dir.name} --session {talliz.session_id} --as pytest"
    expected += f" --runs-dir {run_dir.parent}"
    assert code.text() == expected
    assert "Talliz" in row.text() and run_dir.name in row.text()


def test_no_failures_no_rows(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    config = tmp_path / "ok.yaml"
    config.write_text(
        "run: {conversations: 1, concurrency: 1, seed: 7}\ntarget: {demo: {reply_delay_s: 0}}\n"
    )
    assert invoke("run", "-f", str(config), "--runs-dir", str(runs)).returncode == 0
    settings = DashboardSettings(store_url=f"sqlite:///{runs / 'results.sqlite'}", runs_root=runs)
    with DashboardServer(settings) as server:
        assert httpx.get(server.url + "/api/status").json()["failed_conversations"] == []
