"""Fixtures for the demo ticket assistant tests: a real server subprocess and a webhook receiver."""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

# Running from a checkout without an installed package: make ``src`` importable.
_SRC = Path(__file__).resolve().parents[2] / "src"
if importlib.util.find_spec("convoload") is None and str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))

from convoload_demo.tickets.launcher import DemoTicketServer  # noqa: E402
from convoload_demo.tickets.settings import TicketServerSettings  # noqa: E402
from tests.demo_tickets.helpers import CallbackReceiver, callback_handler  # noqa: E402


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    ref: list[CallbackReceiver] = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), callback_handler(ref))
    httpd.daemon_threads = True
    host, port = httpd.server_address[:2]
    ref.append(CallbackReceiver(url=f"http://{host}:{port}/hook"))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield ref[0]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def server() -> Iterator[DemoTicketServer]:
    """Joined-messages server with a fixed, noticeable delay (no jitter)."""
    settings = TicketServerSettings(reply_delay_s=0.4, jitter_s=0.0, retry_backoff_s=(0.1, 0.1, 0.1))
    with DemoTicketServer(settings) as srv:
        yield srv


@pytest.fixture(scope="module")
def split_server() -> Iterator[DemoTicketServer]:
    """Split-messages server with jitter, to check per-client ordering."""
    settings = TicketServerSettings(
        reply_delay_s=0.05, jitter_s=0.05, split_messages=True, seed=7, max_body_bytes=2_000
    )
    with DemoTicketServer(settings) as srv:
        yield srv


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    # trust_env=False: loopback only, never an ambient proxy.
    with httpx.Client(trust_env=False, timeout=10.0) as client:
        yield client
