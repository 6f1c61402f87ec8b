"""Fixtures for the demo ticket assistant tests: a real server subprocess and a webhook receiver."""

from __future__ import annotations

import importlib.util
import json
import queue
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

# Running from a checkout without an installed package: make ``src`` importable.
_SRC = Path(__file__).resolve().parents[2] / "src"
if importlib.util.find_spec("convoload") is None and str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))

from convoload_demo.tickets.launcher import DemoTicketServer  # noqa: E402
from convoload_demo.tickets.settings import TicketServerSettings  # noqa: E402


@dataclass
class Callback:
    path: str
    payload: dict[str, Any]


@dataclass
class CallbackReceiver:
    """A local webhook endpoint; each received POST is put on ``inbox``."""

    url: str
    inbox: queue.Queue[Callback] = field(default_factory=queue.Queue)
    fail_next: int = 0  # answer HTTP 500 to this many requests (to exercise retries)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, timeout: float = 5.0) -> Callback:
        try:
            return self.inbox.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no callback received within {timeout}s") from None

    def collect_until_final(self, count: int = 1, timeout: float = 5.0) -> list[Callback]:
        """Callbacks until ``count`` of them had ``final`` set."""
        got: list[Callback] = []
        finals = 0
        while finals < count:
            cb = self.get(timeout)
            got.append(cb)
            finals += bool(cb.payload.get("final"))
        return got

    def assert_empty(self) -> None:
        assert self.inbox.empty(), f"unexpected callback: {self.inbox.queue[0]}"


def _handler(receiver_ref: list[CallbackReceiver]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            receiver = receiver_ref[0]
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with receiver.lock:
                failing = receiver.fail_next > 0
                if failing:
                    receiver.fail_next -= 1
            status = 500 if failing else 200
            receiver.inbox.put(Callback(self.path, {**json.loads(body), "_status": status}))
            reply = b"{}"
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    return Handler


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    ref: list[CallbackReceiver] = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(ref))
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
