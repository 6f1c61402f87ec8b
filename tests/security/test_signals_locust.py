"""Signals under Locust: the plain `locust -f $(convoload locustfile)` CLI (standalone, master, worker)
and `convoload run --workers N`.

A SIGTERM (or Ctrl-C) ends the test the way its run time would, at once: conversations under way are
recorded as interrupted, the aggregate (on a master, of every worker's records) is written, the exit code
is 143 (130). A worker SIGTERMed on its own stops its conversations, writes its records, ships its last
lines and numbers to the master and leaves; the master goes on. A worker killed outright (SIGKILL) is
reported lost: its conversations in flight are counted apart, what it shipped is recorded, the run goes
on with the others and is incomplete. Before, Locust's own SIGTERM handling wrote the aggregate
while conversations were still running (and then lost them: the journal was closed) and exited 0 or 1;
`run --workers` died on SIGTERM leaving its master and workers running.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from convoload.store.results import ResultsStore
from tests.helpers import (
    EXIT,
    Processes,
    first_journal,
    free_consecutive_ports,
    journal_lines,
    wait_until,
    write,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def config(tmp_path: Path) -> Path:
    return write(
        tmp_path / "c.yaml",
        f"""
run: {{seed: 9, runs_dir: "{tmp_path / "runs"}"}}
target: {{type: demo, demo: {{agent: tickets, reply_delay_s: 0.15, jitter_s: 0.0}}}}
""",
    )


def records_and_aggregate(run_dir: Path) -> tuple[list, dict]:
    records = journal_lines(run_dir / "journal.jsonl")
    return records, json.loads((run_dir / "aggregate.json").read_text())


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_standalone_locust_ends_on_a_signal_with_everything_recorded(
    tmp_path: Path, processes: Processes, signum: int
) -> None:
    locust = processes.locust(
        "--headless",
        "-u",
        "3",
        "-r",
        "3",
        "--only-summary",
        "--convoload-config",
        str(config(tmp_path)),
        cwd=tmp_path,
    )
    journal = wait_until(lambda: first_journal(tmp_path / "runs"), "a finished conversation")
    locust.signal(signum)
    assert locust.wait() == EXIT[signum], locust.err()[-3000:]

    records, aggregate = records_and_aggregate(journal.parent)
    summary = aggregate["summary"]
    assert summary["total_conversations"] == len(records)
    assert summary["interrupted_conversations"] == sum(r.outcome.value == "interrupted" for r in records) >= 1
    assert summary["completion"]["stopped_by"] == signal.Signals(signum).name
    with ResultsStore(f"sqlite:///{tmp_path / 'runs' / 'results.sqlite'}", create=False) as store:
        assert store.get_run(journal.parent.name).status == "interrupted"
        assert len(store.conversations(journal.parent.name)) == len(records)
    assert "goal reached" in locust.err()  # our summary, after the users were stopped
    assert "journal is closed" not in locust.err() and "Traceback" not in locust.err()


def start_cluster(tmp_path: Path, processes: Processes, *master_options: str):
    port = free_consecutive_ports(1)
    common = ["--convoload-config", str(config(tmp_path))]
    master = processes.locust(
        "--master",
        "--master-bind-host",
        "127.0.0.1",
        "--master-bind-port",
        str(port),
        "--expect-workers",
        "2",
        "--headless",
        "--only-summary",
        "-u",
        "4",
        "-r",
        "4",
        "--run-id",
        "sig",
        *master_options,
        *common,
        cwd=tmp_path,
    )
    workers = [
        processes.locust(
            "--worker", "--master-host", "127.0.0.1", "--master-port", str(port), *common, cwd=tmp_path
        )
        for _ in range(2)
    ]
    return master, workers, tmp_path / "runs" / "sig"


def test_sigterm_to_the_master_ends_the_run_with_the_merged_aggregate(
    tmp_path: Path, processes: Processes
) -> None:
    master, workers, run_dir = start_cluster(tmp_path, processes)
    wait_until(
        lambda: first_journal(run_dir, "worker-*/journal.jsonl"), "a finished conversation on a worker"
    )
    master.signal(signal.SIGTERM)
    assert master.wait() == 143, master.err()[-3000:]
    for worker in workers:
        assert worker.wait() == 0, worker.err()[-3000:]  # told to quit by the master

    merged = json.loads((run_dir / "aggregate.json").read_text())
    every = [r for k in (0, 1) for r in journal_lines(run_dir / f"worker-{k}" / "journal.jsonl")]
    assert merged["summary"]["total_conversations"] == len(every) > 0  # nothing under way was lost
    interrupted = sum(r.outcome.value == "interrupted" for r in every)
    assert merged["summary"]["interrupted_conversations"] == interrupted >= 1  # cut off at once
    assert merged["run"]["status"] == "interrupted" and merged["run"]["stopped_by"] == "SIGTERM"
    assert sorted(journal_lines(run_dir / "journal.jsonl"), key=lambda r: r.session_id) == sorted(
        every, key=lambda r: r.session_id
    )  # the master's journal: every conversation, the interrupted ones too
    assert "goal reached" in master.err()
    assert processes.alive() == []


def by_index(workers) -> dict:
    """Locust numbers workers as they connect: worker k's records are in worker-<k>/."""
    return {
        int(
            worker.wait_for_output("convoload worker ", stream="stderr")
            .split("convoload worker ")[1]
            .split()[0]
        ): worker
        for worker in workers
    }


def whole_lines(path: Path) -> list[bytes]:
    """The complete lines of a journal another process is writing (not one it has half written)."""
    data = path.read_bytes() if path.is_file() else b""
    return data[: data.rfind(b"\n") + 1].splitlines()


def test_a_worker_killed_outright_is_lost_its_shipped_conversations_kept_and_the_run_goes_on(
    tmp_path: Path, processes: Processes
) -> None:
    master, workers, run_dir = start_cluster(tmp_path, processes, "--conversations", "30")
    workers = by_index(workers)
    victim, survivor = workers[0], workers[1]
    # Worker 0 plays indices 0-14 (user ids 1-15): wait until the master has recorded three of them,
    # so that the worker has reported its conversations in flight at least once meanwhile.
    wait_until(
        lambda: (
            sum(
                json.loads(line)["summary"]["user_id"] <= 15
                for line in whole_lines(run_dir / "journal.jsonl")
            )
            >= 3
        ),
        "three of worker 0's conversations on the master",
    )
    victim.process.kill()
    assert victim.wait() == -signal.SIGKILL
    # The run goes on with worker 1 to the end of its share; the master then ends it by itself.
    assert master.wait() in (0, 1), master.err()[-3000:]
    assert survivor.wait() == 0, survivor.err()[-3000:]
    assert "convoload worker 0 (" in master.err() and "lost: Locust stopped hearing from it" in master.err()

    aggregate = json.loads((run_dir / "aggregate.json").read_text())
    summary, workers_meta = aggregate["summary"], aggregate["run"]["distributed"]["workers"]
    lost, kept = workers_meta[0], workers_meta[1]
    assert lost["lost"] is True and not lost["complete"] and kept["complete"] and "lost" not in kept
    assert 1 <= summary["lost_with_worker"] == lost["lost_with_worker"] <= 2  # its users' conversations
    assert summary["completion"]["complete"] is False and aggregate["run"]["status"] == "interrupted"
    assert aggregate["assessment"]["recommendations"][0].startswith("Incomplete run:")
    assert "lost in flight with a worker" in aggregate["assessment"]["recommendations"][0]

    records = journal_lines(run_dir / "journal.jsonl")
    assert summary["total_conversations"] == len(records) == 15 + lost["conversations"]
    # Lost conversations are never successes: the count is that of the records.
    assert summary["successful_conversations"] == sum(r.goal_reached for r in records)
    master_lines = set((run_dir / "journal.jsonl").read_bytes().splitlines())
    # Every conversation worker 0 finished and shipped is on the master; its journal keeps them all.
    victims = (run_dir / "worker-0" / "journal.jsonl").read_bytes()
    shipped = victims[: lost["journal_bytes"]].splitlines()
    assert len(shipped) == lost["conversations"] >= 3 and set(shipped) <= master_lines
    assert not set(whole_lines(run_dir / "worker-0" / "journal.jsonl")[len(shipped) :]) & master_lines
    assert set((run_dir / "worker-1" / "journal.jsonl").read_bytes().splitlines()) <= master_lines
    assert kept["conversations"] == 15


def test_a_worker_sigtermed_alone_records_everything_and_the_run_goes_on(
    tmp_path: Path, processes: Processes
) -> None:
    master, workers, run_dir = start_cluster(tmp_path, processes)
    indexed = by_index(workers)
    leaving, staying = indexed[0], indexed[1]
    wait_until(
        lambda: first_journal(run_dir, "worker-0/journal.jsonl"), "a finished conversation on worker 0"
    )
    leaving.signal(signal.SIGTERM)
    assert leaving.wait() == 143, leaving.err()[-3000:]
    left, left_aggregate = records_and_aggregate(run_dir / "worker-0")
    assert left_aggregate["summary"]["total_conversations"] == len(left)
    assert sum(r.outcome.value == "interrupted" for r in left) >= 1  # its conversations under way
    assert left_aggregate["summary"]["completion"]["stopped_by"] == "SIGTERM"

    # The run goes on with the other worker: its journal still grows, the master is still there.
    other = run_dir / "worker-1" / "journal.jsonl"
    count = len(journal_lines(other))
    wait_until(lambda: len(journal_lines(other)) > count, "worker 1 to finish another conversation")
    assert master.process.poll() is None
    master.signal(signal.SIGTERM)
    assert master.wait() == 143, master.err()[-3000:]
    assert staying.wait() == 0
    merged = json.loads((run_dir / "aggregate.json").read_text())
    every = len(left) + len(journal_lines(other))
    assert merged["summary"]["total_conversations"] == every  # the worker's last lines reached the master
    assert len(journal_lines(run_dir / "journal.jsonl")) == every


def test_sigterm_to_run_with_workers_ends_master_and_workers_and_writes_the_merged_run(
    tmp_path: Path, processes: Processes
) -> None:
    run = processes.convoload("run", "--workers", "2", "-f", str(config(tmp_path)), "-n", "200", cwd=tmp_path)
    run_dir = wait_until(
        lambda: first_journal(tmp_path / "runs", "*/worker-*/journal.jsonl"),
        "a finished conversation on a worker",
    ).parent.parent
    run.signal(signal.SIGTERM)
    assert run.wait() == 143, run.err()[-3000:]
    merged = json.loads((run_dir / "aggregate.json").read_text())
    every = [r for k in (0, 1) for r in journal_lines(run_dir / f"worker-{k}" / "journal.jsonl")]
    assert merged["summary"]["total_conversations"] == len(every) > 0
    completion = merged["summary"]["completion"]
    assert completion["planned_conversations"] == 200 and completion["complete"] is False
    assert merged["assessment"]["recommendations"][0].startswith("Incomplete run:")
    assert "of 200 planned conversations finished" in run.out()  # the merged summary, printed
    assert processes.alive() == []  # neither the master nor a worker was left running
