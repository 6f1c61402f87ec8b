"""Bundled servers never outlive the process that started them, even when it is killed with -9."""

import os
import select
import signal
import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e

PARENT = """
import sys
from convoload_demo.tickets.launcher import DemoTicketServer
server = DemoTicketServer().start()
print(server.pid, flush=True)
sys.stdin.read()  # wait until the test kills us
"""


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="needs pidfd_open (Linux)")
def test_demo_server_exits_when_its_parent_is_killed():
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    child_pid = int(parent.stdout.readline())
    child = os.pidfd_open(child_pid)  # becomes readable when the child exits: no polling
    try:
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=30)
        readable, _, _ = select.select([child], [], [], 30)
        assert readable, "the demo server kept running after its parent died"
    finally:
        if not select.select([child], [], [], 0)[0]:
            os.kill(child_pid, signal.SIGKILL)
        os.close(child)
