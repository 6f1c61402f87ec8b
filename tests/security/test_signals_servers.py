"""`convoload serve-demo` and `serve-faulty` pass SIGTERM and SIGINT on to their server and wait for it.

Before, the signal ended the `convoload` process only: its server child was left listening, reparented
to PID 1. Now the child gets the signal, the parent waits for it and exits 143 (130); the port is closed.
"""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import psutil
import pytest

from tests.helpers import EXIT, Processes

pytestmark = pytest.mark.e2e


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize("command", ["serve-demo", "serve-faulty"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_server_command_passes_the_signal_on_and_leaves_nothing_listening(
    tmp_path: Path, processes: Processes, command: str, signum: int
) -> None:
    server = processes.convoload(command, "--port", "0", cwd=tmp_path)
    ready = server.wait_for_output("READY http://")  # the child prints the address it really bound
    port = int(ready.split("READY http://", 1)[1].split()[0].rsplit(":", 1)[1])
    assert listening(port)
    [child] = psutil.Process(server.pid).children()

    server.signal(signum)
    assert server.wait() == EXIT[signum], server.err()[-3000:]
    assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE  # waited for: not reparented
    assert not listening(port)
    assert processes.alive() == []


def test_the_server_does_not_outlive_a_kill_9_of_the_command(tmp_path: Path, processes: Processes) -> None:
    """Nothing can be passed on to a child on SIGKILL: the server sees its parent's pipe close and stops."""
    server = processes.convoload("serve-demo", "--port", "0", cwd=tmp_path)
    ready = server.wait_for_output("READY http://")
    port = int(ready.split("READY http://", 1)[1].split()[0].rsplit(":", 1)[1])
    [child] = psutil.Process(server.pid).children()
    server.signal(signal.SIGKILL)
    server.wait()
    child.wait(timeout=30)  # raises psutil.TimeoutExpired when it keeps running
    assert not listening(port)
