"""The demo ticket tests' webhook receiver: the callbacks it got, and the handler that records them."""

from __future__ import annotations

import json
import queue
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any


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


def callback_handler(receiver_ref: list[CallbackReceiver]) -> type[BaseHTTPRequestHandler]:
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
