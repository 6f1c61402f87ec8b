"""The master's callback forwarder in front of a real receiver: same answers, counted, on loopback."""

import json

import gevent
import httpx
import pytest

from convoload.load.forwarder import CallbackForwarder
from convoload.targets.receiver import WebhookReceiver


@pytest.fixture
def pair():
    forwarder = CallbackForwarder(max_body_bytes=2048, timeout_s=5).start()
    receiver = WebhookReceiver(max_body_bytes=2048, worker_index=3, callback_base=forwarder.worker_base(3))
    receiver.start()
    forwarder.route(3, receiver.public_url)
    yield forwarder, receiver
    receiver.stop()
    forwarder.stop()


def post(url, body):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(url, content=data, headers={"Content-Type": "application/json"}, timeout=10)


def test_callback_urls_point_at_the_master_and_reach_the_waiting_turn(pair):
    forwarder, receiver = pair
    url = receiver.callback_url("s1", 1)
    assert url.startswith(f"{forwarder.public_url}/w/3/cb/")
    assert str(receiver.port) not in url  # the agent never sees the worker's address
    pending = receiver.expect("s1", 1)
    sender = gevent.spawn(post, url, {"text": "oi", "messageId": "m1"})
    callbacks, _ = receiver.wait(pending, timeout_s=5)
    assert [c.document["text"] for c in callbacks] == ["oi"]
    answer = sender.get(timeout=5)
    assert answer.status_code == 202 and answer.json() == {"status": "accepted"}
    receiver.release(pending)
    assert forwarder.stats() == {"forwarded": 1}


def test_the_receivers_verdicts_come_back_unchanged_and_are_counted(pair):
    forwarder, receiver = pair
    pending = receiver.expect("s1", 1)
    good = receiver.callback_url("s1", 1)
    assert post(good.replace(good.split("/")[-3], "forged-token"), {"text": "x"}).status_code == 403
    assert post(receiver.callback_url("s9", 1), {"text": "who?"}).status_code == 404
    assert post(good, b"{not json").status_code == 400
    assert post(good, {"text": "real", "messageId": "m1"}).status_code == 202
    duplicate = post(good, {"text": "real", "messageId": "m1"})
    assert duplicate.status_code == 409 and duplicate.json() == {"status": "duplicate"}
    receiver.wait(pending, timeout_s=5)
    receiver.release(pending)
    assert post(good, {"text": "too late", "messageId": "m2"}).status_code == 410
    assert dict(receiver.counters) == {
        "forged": 1,
        "unknown": 1,
        "malformed": 1,
        "accepted": 1,
        "duplicate": 1,
        "late": 1,
    }
    assert forwarder.stats() == {
        "forwarded": 1,
        "worker_400": 1,
        "worker_403": 1,
        "worker_404": 1,
        "worker_409": 1,
        "worker_410": 1,
    }


def test_what_the_master_rejects_or_cannot_deliver_is_counted_apart(pair):
    forwarder, receiver = pair
    path = receiver.callback_url("s1", 1).split("/w/3", 1)[1]
    assert post(f"{forwarder.public_url}/w/7{path}", {"text": "x"}).status_code == 404  # no such worker
    assert post(f"{forwarder.public_url}/cb/x/s1/1", {"text": "x"}).status_code == 404  # no worker at all
    assert post(receiver.callback_url("s1", 1), {"text": "x" * 5000}).status_code == 413
    assert httpx.get(receiver.callback_url("s1", 1)).status_code == 405
    receiver.stop()  # the worker is gone: the master answers 502, it does not hang
    failed = post(receiver.callback_url("s1", 1), {"text": "x"})
    assert failed.status_code == 502 and failed.json() == {"status": "forward_failed"}
    assert forwarder.stats() == {
        "unknown_worker": 2,
        "oversized": 1,
        "bad_method": 1,
        "forward_failed": 1,
    }
    assert receiver.counters == {}  # none of it reached the worker


def test_a_public_url_template_names_the_master_for_the_agent():
    forwarder = CallbackForwarder(public_url="https://callbacks.example.com/{port}/").start()
    try:
        assert forwarder.worker_base(2) == f"https://callbacks.example.com/{forwarder.port}/w/2"
    finally:
        forwarder.stop()
