"""Tests started and stopped from Locust's web UI (its REST API, as the page's buttons call it): each
one is a convoload run of its own, written when it stops, and the process ends cleanly on a signal."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

import httpx
import pytest

from tests.helpers import (
    EXIT,
    Processes,
    Started,
    free_consecutive_ports,
    free_port,
    journal_lines,
    run_dirs,
    wait_until,
    write,
)

pytestmark = pytest.mark.e2e

# Conversations of several turns (slow replies) keep some under way when a test stops; a stop timeout
# of 0 cuts those off at once, so each test ends with interrupted conversations to count.
CONFIG = "run: {seed: 5}\ntarget: {type: demo, demo: {reply_delay_s: 0.15, jitter_s: 0.0}}\n"


class WebUI:
    """Locust's web UI REST API, as its Start and Stop buttons call it."""

    def __init__(self, port: int, process: Started) -> None:
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
        self.process = process

    def up(self) -> bool:
        if self.process.process.poll() is not None:
            raise AssertionError(f"locust exited early\n{self.process.err()[-3000:]}")
        try:
            return self.client.get("/stats/requests").status_code == 200
        except httpx.TransportError:
            return False

    def swarm(self, users: int) -> None:
        answer = self.client.post("/swarm", data={"user_count": users, "spawn_rate": users})
        assert answer.json()["success"], answer.text

    def stop(self) -> None:
        assert self.client.post("/stop").json()["success"]

    def stats(self) -> dict:
        return self.client.get("/stats/requests").json()


def the_run_of(runs: Path, known: set[Path]) -> Path | None:
    """The run folder that is not among `known` once it has its report (the test's run, written)."""
    new = [d for d in run_dirs(runs) if d not in known and (d / "report.html").is_file()]
    return new[0] if len(new) == 1 else None


def run_one_test(ui: WebUI, runs: Path, known: set[Path], users: int) -> tuple[Path, int]:
    """Start a test, let conversations finish, stop it; its run folder once written, and Locust's
    CONVERSATION count for it, once it equals the run's journal lines (it must, within a deadline).

    Locust caches /stats/requests for a moment: an answer that says `running` is this test's, and the
    `stopped` ones after it were made once the test had stopped. A master's count follows its workers'
    reports (every few seconds), so it may take one more to reach the journal's."""
    ui.swarm(users)
    wait_until(
        lambda: (stats := ui.stats())["state"] == "running" and conversations_in(stats) >= users + 2,
        "conversations finishing in the test",
    )
    ui.stop()
    run_dir = wait_until(lambda: the_run_of(runs, known), "the stopped test's run folder with its report")
    journaled = len(journal_lines(run_dir / "journal.jsonl"))
    wait_until(
        lambda: (stats := ui.stats())["state"] == "stopped" and conversations_in(stats) == journaled,
        f"Locust's CONVERSATION count of the stopped test to reach the {journaled} journaled",
        timeout=20,
    )
    return run_dir, journaled


def workers_set_up(master: Started) -> None:
    """Both workers have their run from the master (a test started earlier finds them still setting up:
    their first users wait, and Locust's own bookkeeping of them may go astray)."""
    wait_until(
        lambda: all(f"convoload worker {k} ready" in master.err() for k in (0, 1)), "both workers set up"
    )


def conversations_in(stats: dict) -> int:
    """Locust's CONVERSATION request count (every persona) in a /stats/requests answer."""
    return sum(s["num_requests"] for s in stats["stats"] if s["method"] == "CONVERSATION")


def test_each_web_ui_test_is_a_run_written_when_it_stops(tmp_path, processes: Processes):
    config = write(tmp_path / "c.yaml", CONFIG)
    runs = tmp_path / "runs"
    port = free_port()
    locust = processes.locust(
        "--web-host",
        "127.0.0.1",
        "--web-port",
        str(port),
        "--stop-timeout",
        "0",
        "--convoload-config",
        str(config),
        "--runs-dir",
        str(runs),
        cwd=tmp_path,
    )
    ui = WebUI(port, locust)
    wait_until(ui.up, "Locust's web UI")

    first, first_count = run_one_test(ui, runs, set(), users=4)
    second, second_count = run_one_test(ui, runs, {first}, users=3)

    locust.signal(signal.SIGINT)
    assert locust.wait() == EXIT[signal.SIGINT]
    output = locust.out() + locust.err()
    assert "Traceback" not in output, output[-5000:]
    assert "journal is closed" not in output, output[-5000:]

    assert run_dirs(runs) == sorted([first, second])
    for run_dir, count in ((first, first_count), (second, second_count)):
        records = journal_lines(run_dir / "journal.jsonl")
        assert len(records) == count > 0
        assert len({r.session_id for r in records}) == len(records)
        assert {r.run_id for r in records} == {run_dir.name}
        aggregate = json.loads((run_dir / "aggregate.json").read_text())
        interrupted = sum(r.outcome.value == "interrupted" for r in records)
        assert aggregate["summary"]["total_conversations"] == count
        assert aggregate["summary"]["interrupted_conversations"] == interrupted > 0
        assert aggregate["run"]["status"] == "interrupted"
        assert f"report: {run_dir / 'report.html'}" in output


def test_a_signal_while_the_ui_stop_waits_for_conversations_cuts_them_off_cleanly(
    tmp_path, processes: Processes
):
    """The UI's stop lets conversations under way finish (the stop timeout); a SIGTERM then ends the
    process: they are cut off and journaled as interrupted before the run closes, none starts again."""
    # Slow replies: a conversation takes seconds, so the stop is still waiting when the signal comes.
    config = write(
        tmp_path / "c.yaml",
        "run: {seed: 5}\ntarget: {type: demo, demo: {reply_delay_s: 1.0, jitter_s: 0.0}}\n",
    )
    runs = tmp_path / "runs"
    port = free_port()
    locust = processes.locust(
        "--web-host",
        "127.0.0.1",
        "--web-port",
        str(port),
        "--convoload-config",
        str(config),
        "--runs-dir",
        str(runs),
        "--json-file",
        str(tmp_path / "stats"),
        cwd=tmp_path,
    )
    ui = WebUI(port, locust)
    wait_until(ui.up, "Locust's web UI")
    ui.swarm(4)
    wait_until(lambda: (stats := ui.stats())["state"] == "running" and stats["user_count"] == 4, "4 users")
    stopping = threading.Thread(target=lambda: ui.client.post("/stop", timeout=120), daemon=True)
    stopping.start()  # answers once the users have ended: here, when the signal cut them off
    wait_until(lambda: ui.stats()["state"] == "cleanup", "the UI's stop waiting for conversations")

    locust.signal(signal.SIGTERM)
    assert locust.wait() == EXIT[signal.SIGTERM]
    stopping.join(timeout=30)
    output = locust.out() + locust.err()
    assert "Traceback" not in output, output[-5000:]

    (run_dir,) = run_dirs(runs)
    records = journal_lines(run_dir / "journal.jsonl")
    stats = json.loads((tmp_path / "stats.json").read_text())  # Locust's, written as it exits
    assert len(records) == sum(e["num_requests"] for e in stats if e["method"] == "CONVERSATION")
    assert [r.outcome.value for r in records] == ["interrupted"] * 4  # each user's one, none after
    aggregate = json.loads((run_dir / "aggregate.json").read_text())
    assert aggregate["summary"]["interrupted_conversations"] == 4
    assert aggregate["run"]["stopped_by"] == "SIGTERM"
    assert (run_dir / "report.html").is_file()
    assert f"report: {run_dir / 'report.html'}" in output


def test_each_web_ui_test_on_a_master_is_a_run_with_its_workers_records(tmp_path, processes: Processes):
    base = free_consecutive_ports(2)  # each worker's receiver: base + its index
    config = write(
        tmp_path / "c.yaml", CONFIG.replace("jitter_s: 0.0}", f"jitter_s: 0.0}}, receiver: {{port: {base}}}")
    )
    runs = tmp_path / "runs"
    port, master_port = free_port(), free_consecutive_ports(1)
    common = ("--convoload-config", str(config), "--runs-dir", str(runs))
    master = processes.locust(
        "--master",
        "--master-bind-host",
        "127.0.0.1",
        "--master-bind-port",
        str(master_port),
        "--web-host",
        "127.0.0.1",
        "--web-port",
        str(port),
        "--stop-timeout",
        "0",
        *common,
        cwd=tmp_path,
    )
    workers = [
        processes.locust(
            "--worker", "--master-host", "127.0.0.1", "--master-port", str(master_port), *common, cwd=tmp_path
        )
        for _ in range(2)
    ]
    ui = WebUI(port, master)
    wait_until(lambda: ui.up() and ui.stats().get("worker_count") == 2, "the master's web UI with 2 workers")
    workers_set_up(master)

    first, first_count = run_one_test(ui, runs, set(), users=4)
    second, second_count = run_one_test(ui, runs, {first}, users=4)

    master.signal(signal.SIGINT)
    assert master.wait() == EXIT[signal.SIGINT]
    for worker in workers:
        worker.wait()
    for process in (master, *workers):
        output = process.out() + process.err()
        assert "Traceback" not in output, output[-5000:]
    output = master.err()

    assert run_dirs(runs) == sorted([first, second])
    for run_dir, count in ((first, first_count), (second, second_count)):
        records = journal_lines(run_dir / "journal.jsonl")
        assert len(records) == count > 0
        assert {r.run_id for r in records} == {run_dir.name}
        theirs = [r for k in (0, 1) for r in journal_lines(run_dir / f"worker-{k}" / "journal.jsonl")]
        assert sorted(r.session_id for r in theirs) == sorted(r.session_id for r in records)
        aggregate = json.loads((run_dir / "aggregate.json").read_text())
        interrupted = sum(r.outcome.value == "interrupted" for r in records)
        assert aggregate["summary"]["total_conversations"] == count
        assert aggregate["summary"]["interrupted_conversations"] == interrupted > 0
        assert all(w["complete"] for w in aggregate["run"]["distributed"]["workers"])
        assert f"report: {run_dir / 'report.html'}" in output


def test_conversations_n_ends_each_web_ui_test_and_the_next_one_counts_afresh(tmp_path, processes: Processes):
    config = write(tmp_path / "c.yaml", CONFIG)
    runs = tmp_path / "runs"
    port = free_port()
    locust = processes.locust(
        "--web-host", "127.0.0.1", "--web-port", str(port), "--conversations", "3",
        "--convoload-config", str(config), "--runs-dir", str(runs),
        cwd=tmp_path,
    )  # fmt: skip
    ui = WebUI(port, locust)
    wait_until(ui.up, "Locust's web UI")
    written: list[Path] = []
    for _ in range(2):
        ui.swarm(2)
        run_dir = wait_until(lambda: the_run_of(runs, set(written)), "the test ended by its 3 conversations")
        written.append(run_dir)
        wait_until(lambda: ui.stats()["state"] == "stopped", "Locust's test stopped")
    locust.signal(signal.SIGTERM)
    assert locust.wait() == EXIT[signal.SIGTERM]
    assert "Traceback" not in locust.out() + locust.err()
    for run_dir in written:
        records = journal_lines(run_dir / "journal.jsonl")
        assert len(records) == 3 and all(r.goal_reached for r in records)  # each let finish: no cut-off
        aggregate = json.loads((run_dir / "aggregate.json").read_text())
        assert (aggregate["run"]["status"], aggregate["summary"]["total_conversations"]) == ("finished", 3)


def test_a_signal_while_the_master_drains_its_workers_cuts_their_conversations_off(
    tmp_path, processes: Processes
):
    base = free_consecutive_ports(2)
    config = write(
        tmp_path / "c.yaml",
        f"target: {{type: demo, demo: {{reply_delay_s: 1.0, jitter_s: 0.0}}, receiver: {{port: {base}}}}}\n",
    )
    runs = tmp_path / "runs"
    port, master_port = free_port(), free_consecutive_ports(1)
    common = ("--convoload-config", str(config), "--runs-dir", str(runs))
    master = processes.locust(
        "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(master_port),
        "--web-host", "127.0.0.1", "--web-port", str(port), *common,
        cwd=tmp_path,
    )  # fmt: skip
    workers = [
        processes.locust("--worker", "--master-host", "127.0.0.1", "--master-port", str(master_port), *common,
                         cwd=tmp_path)
        for _ in range(2)
    ]  # fmt: skip
    ui = WebUI(port, master)
    wait_until(lambda: ui.up() and ui.stats().get("worker_count") == 2, "the master's web UI with 2 workers")
    workers_set_up(master)
    ui.swarm(4)
    wait_until(lambda: (stats := ui.stats())["state"] == "running" and stats["user_count"] == 4, "4 users")
    stopping = threading.Thread(target=lambda: ui.client.post("/stop", timeout=120), daemon=True)
    stopping.start()  # the master drains its workers, which let conversations finish: seconds
    # Locust's master says `running` until its test_stopping listeners (the drain) return.
    master.wait_for_output("send their last records", stream="stderr")

    master.signal(signal.SIGINT)
    assert master.wait() == EXIT[signal.SIGINT]
    for worker in workers:
        worker.wait()
    for process in (master, *workers):
        assert "Traceback" not in process.out() + process.err(), process.err()[-5000:]

    (run_dir,) = run_dirs(runs)
    records = journal_lines(run_dir / "journal.jsonl")
    theirs = [r for k in (0, 1) for r in journal_lines(run_dir / f"worker-{k}" / "journal.jsonl")]
    assert sorted(r.session_id for r in records) == sorted(r.session_id for r in theirs)
    assert [r.outcome.value for r in records] == ["interrupted"] * 4
    aggregate = json.loads((run_dir / "aggregate.json").read_text())
    assert aggregate["summary"]["interrupted_conversations"] == 4
    assert all(w["complete"] for w in aggregate["run"]["distributed"]["workers"])
    assert (run_dir / "report.html").is_file()
