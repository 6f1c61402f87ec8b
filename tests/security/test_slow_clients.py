"""Slow clients cannot hold the receiver (or the forwarding master): read timeouts and a connection cap.

The probe of issue 14: 300 connections that send half a header block and then nothing were all kept
open, for ever. Now the header block and the body each have a deadline, idle kept-alive connections
are closed, and past `max_connections` a new connection is answered 503 at once, while the real
callbacks of a real run keep being served.
"""

import json
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import gevent
import httpx
import pytest

from convoload.config import Config
from convoload.load.context import RunContext
from convoload.load.engine import run_load
from convoload.load.forwarder import CallbackForwarder
from convoload.targets.lean_wsgi import ConnectionLimits
from convoload.targets.receiver import WebhookReceiver

HALF_A_HEADER = b"POST /cb/x/s/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty"


def wait_for(predicate: Callable[[], bool], timeout_s: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        gevent.sleep(0.02)


def closed_by_server(sock: socket.socket, timeout_s: float) -> bool:
    """True once the server closed the connection (end of file or reset) within `timeout_s`."""
    sock.settimeout(timeout_s)
    try:
        while sock.recv(4096):
            pass  # an answer, if any, then the end
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


@contextmanager
def slow_connections(port: int, count: int, data: bytes = HALF_A_HEADER) -> Iterator[list[socket.socket]]:
    socks = []
    try:
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(data)
            socks.append(sock)
        yield socks
    finally:
        for sock in socks:
            sock.close()


def server_of(receiver: WebhookReceiver):
    return receiver._server


@pytest.mark.slow
@pytest.mark.e2e
def test_300_slow_connections_are_closed_while_a_real_run_gets_every_callback(tmp_path):
    header_timeout_s = 3.0
    config = Config.model_validate(
        {
            "run": {"seed": 7, "runs_dir": str(tmp_path / "runs")},
            "target": {
                "type": "demo",
                "demo": {"reply_delay_s": 0.05, "jitter_s": 0.0},
                "timeout_s": 10,
                "receiver": {"header_timeout_s": header_timeout_s, "body_timeout_s": 3.0},
            },
            "store": {"enabled": False},
        }
    )
    context = RunContext(config)
    receiver: WebhookReceiver = context.target.receiver
    try:
        with slow_connections(receiver.port, 300) as socks:
            wait_for(lambda: server_of(receiver).open_connections >= 300, what="300 connections held")
            runner = gevent.spawn(run_load, context, 6, 3)
            # The slow ones are dropped on their deadline, the run going on meanwhile.
            still_open = [s for s in socks if not closed_by_server(s, header_timeout_s + 10)]
            assert still_open == []
            runner.get(timeout=120)
        document = context.aggregate()
    finally:
        context.close()
    summary = document["summary"]
    assert summary["outcomes"] == {"goal_reached": 6} and summary["errors_by_kind"] == {}
    stats = {k: v for k, v in document["run"]["target_stats"].items() if v}
    assert stats.pop("callbacks_slow_client") == 300
    assert set(stats) == {"callbacks_accepted"}  # every callback of the run got in; none refused


@pytest.fixture
def short_limits():
    return ConnectionLimits(header_timeout_s=0.5, body_timeout_s=0.5, idle_timeout_s=0.5, max_connections=20)


def test_a_body_that_stops_coming_and_a_header_sent_byte_by_byte_are_cut_off(short_limits):
    receiver = WebhookReceiver(limits=short_limits).start()
    try:
        pending = receiver.expect("s1", 1)
        path = receiver.callback_url("s1", 1).split(f":{receiver.port}", 1)[1]
        head = f"POST {path} HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n"
        with slow_connections(receiver.port, 1, head.encode() + b'{"text": ') as (body_sock,):
            assert closed_by_server(body_sock, 10)
        # A header block trickled a byte at a time never completes: each byte arrives well within
        # any per-read timeout, the whole block not within its deadline.
        sent = bytearray()
        with socket.create_connection(("127.0.0.1", receiver.port), timeout=5) as trickle:

            def send_slowly() -> None:
                for byte in head.encode():
                    try:
                        trickle.sendall(bytes([byte]))
                    except OSError:
                        return  # closed by the server
                    sent.append(byte)
                    gevent.sleep(0.05)  # the client's pace (not synchronisation)

            sender = gevent.spawn(send_slowly)
            assert closed_by_server(trickle, 10)
            sender.kill()
        assert len(sent) < len(head)
        assert pending.callbacks == [] and receiver.counters == {"slow_client": 2}
        receiver.release(pending)
    finally:
        receiver.stop()


def test_an_idle_kept_alive_connection_is_closed_after_its_idle_timeout(short_limits):
    receiver = WebhookReceiver(limits=short_limits).start()
    try:
        pending = receiver.expect("s1", 1)
        path = receiver.callback_url("s1", 1).split(f":{receiver.port}", 1)[1]
        body = json.dumps({"text": "oi"}).encode()
        request = f"POST {path} HTTP/1.1\r\nHost: a\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
        with socket.create_connection(("127.0.0.1", receiver.port), timeout=5) as sock:
            sock.sendall(request)
            assert sock.recv(4096).startswith(b"HTTP/1.1 202")  # kept alive: no Connection: close
            assert closed_by_server(sock, 10)
        assert receiver.counters == {"accepted": 1}  # closing an idle connection is no fault
        receiver.release(pending)
    finally:
        receiver.stop()


def test_past_the_connection_cap_new_connections_get_503_at_once_and_callbacks_resume():
    limits = ConnectionLimits(header_timeout_s=30, body_timeout_s=30, idle_timeout_s=30, max_connections=20)
    receiver = WebhookReceiver(limits=limits).start()
    try:
        pending = receiver.expect("s1", 1)
        url = receiver.callback_url("s1", 1)
        with slow_connections(receiver.port, 20) as _held:
            wait_for(lambda: server_of(receiver).open_connections == 20, what="20 connections held")
            with socket.create_connection(("127.0.0.1", receiver.port), timeout=5) as extra:
                extra.settimeout(5)
                answer = extra.recv(4096)  # answered without sending anything: not queued
            assert answer.startswith(b"HTTP/1.1 503") and answer.endswith(b'{"status": "overloaded"}')
            refused = httpx.post(url, json={"text": "x"}, timeout=5)
            assert refused.status_code == 503 and refused.json() == {"status": "overloaded"}
        wait_for(lambda: server_of(receiver).open_connections == 0, what="the held connections gone")
        assert httpx.post(url, json={"text": "real"}, timeout=5).status_code == 202
        assert receiver.counters == {"overloaded": 2, "accepted": 1}
        receiver.release(pending)
    finally:
        receiver.stop()


def test_the_forwarding_master_closes_slow_connections_too(short_limits):
    forwarder = CallbackForwarder(timeout_s=5, limits=short_limits).start()
    try:
        with slow_connections(forwarder.port, 5) as socks:
            assert all(closed_by_server(s, 10) for s in socks)
        assert forwarder.stats() == {"slow_client": 5}
    finally:
        forwarder.stop()
