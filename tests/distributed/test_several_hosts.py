"""A distributed webhook run across hosts for real: the agent, the master and two workers each in a network
namespace of its own, joined by a bridge (tests/distributed/netns.py), so that no process can reach another
over loopback. Run twice: callbacks to each worker's own address (`public_url`), then through the master's
forwarder; each time the master's records must hold every conversation the workers journaled."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from convoload.load.distributed import LOCUSTFILE
from convoload.store.journal import read_journal
from tests.distributed.netns import Network, available
from tests.helpers import Processes, run_dirs, wait_until, write

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CONVERSATIONS = 8
AGENT_PORT, MASTER_PORT, RECEIVER_PORT, FORWARDER_PORT = 8001, 5557, 9000, 8090
TIMEOUT_S = 180


@pytest.fixture(scope="module")
def network() -> Iterator[Network]:
    why = available()
    if why is not None:
        pytest.skip(f"several hosts are built with network namespaces: {why}")
    with Network("agent", "master", "w0", "w1") as net:
        yield net


def _config(folder: Path, network: Network, *, forwarded: bool) -> Path:
    agent = network["agent"].address
    forwarder = (
        f", forwarder: {{host: 0.0.0.0, port: {FORWARDER_PORT}, "
        f'public_url: "http://{network["master"].address}:{FORWARDER_PORT}"}}'
        if forwarded
        else ""
    )
    return write(
        folder / "convoload.yaml",
        "run: {seed: 11, max_iterations: 15}\n"
        "personas: [kataryna, talliz, edman]\n"
        "target:\n"
        "  type: webhook\n"
        f"  url: http://{agent}:{AGENT_PORT}/v1/webhooks/widget\n"
        "  preset: widget\n"
        "  variables: {channel_id: convoload-demo}\n"
        "  timeout_s: 20\n"
        f'  receiver: {{host: 0.0.0.0, port: {RECEIVER_PORT}, public_url: "http://{{env.POD_IP}}:{{port}}"'
        f"{forwarder}}}\n",
    )


def _run(tmp_path: Path, network: Network, processes: Processes, *, forwarded: bool) -> dict[str, Path]:
    """The agent, the master and two workers, each in its host with a folder of its own; returns those."""
    folders = {name: tmp_path / name for name in ("agent", "master", "w0", "w1")}
    for folder in folders.values():
        folder.mkdir()
    config = _config(tmp_path, network, forwarded=forwarded)
    python = sys.executable
    agent_argv = [python, "-m", "convoload_demo.tickets", "--host", "0.0.0.0", "--port", str(AGENT_PORT)]
    agent_argv += ["--reply-delay", "0.01", "--jitter", "0", "--seed", "1"]
    agent = processes.start(network["agent"].command(*agent_argv), cwd=folders["agent"])
    wait_until(lambda: "READY" in agent.out(), "the agent's READY line")
    locust = [python, "-m", "locust", "-f", str(LOCUSTFILE), "--convoload-config", str(config)]
    locust += ["--runs-dir", "runs"]
    master_address = network["master"].address
    master_argv = [*locust, "--master", "--master-bind-host", master_address]
    master_argv += ["--master-bind-port", str(MASTER_PORT), "--expect-workers", "2"]
    master_argv += ["--expect-workers-max-wait", "60", "--headless", "--only-summary"]
    master_argv += ["-u", "4", "-r", "4", "--conversations", str(CONVERSATIONS)]
    master = processes.start(network["master"].command(*master_argv), cwd=folders["master"])
    worker_argv = [*locust, "--worker", "--master-host", master_address, "--master-port", str(MASTER_PORT)]
    workers = [
        processes.start(network[name].command(*worker_argv), cwd=folders[name], POD_IP=network[name].address)
        for name in ("w0", "w1")
    ]
    assert master.wait(TIMEOUT_S) == 0, master.err()[-4000:]
    for worker in workers:
        assert worker.wait(60) == 0, worker.err()[-4000:]
    return folders


def _conversations(journal: Path) -> dict[str, tuple]:
    return {
        r.session_id: (
            r.persona,
            r.identity["cpf"],
            r.outcome,
            tuple((t.user_text, t.reply_text) for t in r.turns),
        )
        for r in read_journal(journal)
    }


def _check_records(folders: dict[str, Path]) -> dict:
    (run_dir,) = run_dirs(folders["master"] / "runs")
    document = json.loads((run_dir / "aggregate.json").read_text(encoding="utf-8"))
    summary = document["summary"]
    assert summary["total_conversations"] == CONVERSATIONS == summary["successful_conversations"]
    # Each worker kept its own journal on its own host...
    workers = {}
    for name in ("w0", "w1"):
        (worker_dir,) = (folders[name] / "runs" / run_dir.name).glob("worker-*")
        workers[name] = _conversations(worker_dir / "journal.jsonl")
        assert workers[name], f"{name} played no conversation"
    every = {**workers["w0"], **workers["w1"]}
    assert len(every) == CONVERSATIONS
    # ...and the master, on a host of its own, holds every one of them, as they were played.
    assert _conversations(run_dir / "journal.jsonl") == every
    assert len(list((run_dir / "conversations").glob("*.json"))) == CONVERSATIONS
    assert (run_dir / "report.html").is_file()
    return document


@pytest.mark.parametrize("forwarded", [False, True], ids=["worker-addresses", "master-forwarder"])
def test_a_webhook_run_across_hosts(tmp_path: Path, network: Network, processes: Processes, forwarded: bool):
    folders = _run(tmp_path, network, processes, forwarded=forwarded)
    document = _check_records(folders)
    workers = {w["worker_index"]: w for w in document["run"]["distributed"]["workers"]}
    addresses = {network["w0"].address, network["w1"].address}
    # Each worker's receiver answered on its host's address (port + worker index), not on loopback.
    urls = {urlsplit(w["receiver_url"]) for w in workers.values()}
    assert {u.hostname for u in urls} == addresses
    assert {(w["receiver_url"], w["worker_index"]) for w in workers.values()} == {
        (u.geturl(), u.port - RECEIVER_PORT) for u in urls
    }
    if forwarded:
        # Every callback reached the master, which handed it to the worker whose conversation it was.
        assert document["run"]["forwarder_stats"]["forwarded"] == document["summary"]["total_turns"]
        assert document["run"]["distributed"]["forwarder_url"] == (
            f"http://{network['master'].address}:{FORWARDER_PORT}"
        )
    else:
        assert "forwarder_stats" not in document["run"]


def test_no_host_reaches_another_over_loopback(network: Network, processes: Processes, tmp_path: Path):
    """The namespaces are really apart: the agent listens on every address of its host, and a worker finds
    it at the agent's address but not at 127.0.0.1 (its own loopback, where nothing listens)."""
    argv = [sys.executable, "-m", "convoload_demo.tickets", "--host", "0.0.0.0", "--port", str(AGENT_PORT)]
    agent = processes.start(network["agent"].command(*argv), cwd=tmp_path)
    wait_until(lambda: "READY" in agent.out(), "the agent's READY line")
    probe = (
        "import socket, sys\n"
        "def reach(host):\n"
        "    try:\n"
        f"        socket.create_connection((host, {AGENT_PORT}), timeout=5).close(); return 'open'\n"
        "    except OSError as exc: return type(exc).__name__\n"
        "print(reach(sys.argv[1]), reach('127.0.0.1'))\n"
    )
    reached = processes.start(
        network["w0"].command(sys.executable, "-c", probe, network["agent"].address), cwd=tmp_path
    )
    assert reached.wait(30) == 0, reached.err()
    assert reached.out().split() == ["open", "ConnectionRefusedError"]
