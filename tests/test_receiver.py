"""The webhook receiver as a real gevent WSGI server on loopback, driven by a real HTTP client."""

import json

import gevent
import httpx
import pytest

from convoload.model import ErrorKind
from convoload.targets.base import TargetError
from convoload.targets.receiver import WebhookReceiver


@pytest.fixture
def receiver():
    r = WebhookReceiver(max_body_bytes=2048, final_path="final").start()
    yield r
    r.stop()


def post(url, body, **kwargs):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(url, content=data, headers={"Content-Type": "application/json"}, **kwargs)


def test_callback_wakes_the_waiting_turn(receiver):
    pending = receiver.expect("s1", 1)
    sender = gevent.spawn(post, receiver.callback_url("s1", 1), {"text": "oi", "messageId": "m1"})
    callbacks, wake_ms = receiver.wait(pending, timeout_s=5)
    assert [c.document["text"] for c in callbacks] == ["oi"]
    assert 0 <= wake_ms < 1000
    assert sender.get(timeout=5).status_code == 202
    receiver.release(pending)
    assert receiver.counters["accepted"] == 1


def test_rejections_are_counted_and_never_reach_a_live_turn(receiver):
    pending = receiver.expect("s1", 1)
    good = receiver.callback_url("s1", 1)
    forged = good.replace(good.split("/")[-3], "not-the-token")
    assert post(forged, {"text": "evil", "messageId": "x"}).status_code == 403
    assert post(receiver.callback_url("s9", 1), {"text": "who?"}).status_code == 404
    assert post(receiver.callback_url("s1", 7), {"text": "wrong turn"}).status_code == 404
    assert post(good, b"{not json").status_code == 400
    assert post(good, {"text": "x" * 5000}).status_code == 413
    assert httpx.get(good).status_code == 405
    assert pending.callbacks == []  # nothing above touched the turn

    assert post(good, {"text": "real", "messageId": "m1"}).status_code == 202
    assert post(good, {"text": "real", "messageId": "m1"}).status_code == 409  # retried by the sender
    callbacks, _ = receiver.wait(pending, timeout_s=5)
    assert [c.document["text"] for c in callbacks] == ["real"]
    receiver.release(pending)

    assert post(good, {"text": "too late", "messageId": "m2"}).status_code == 410
    assert post(good, {"text": "real", "messageId": "m1"}).status_code == 409
    assert dict(receiver.counters) == {
        "forged": 1,
        "unknown": 2,
        "malformed": 1,
        "oversized": 1,
        "bad_method": 1,
        "accepted": 1,
        "duplicate": 2,
        "late": 1,
    }


def test_identical_bodies_without_message_id_are_duplicates(receiver):
    pending = receiver.expect("s2", 1)
    url = receiver.callback_url("s2", 1)
    assert post(url, {"text": "same"}).status_code == 202
    assert post(url, {"text": "same"}).status_code == 409
    receiver.release(pending)


def test_chunked_oversized_body_is_rejected(receiver):
    pending = receiver.expect("s3", 1)

    def chunks():
        for _ in range(10):
            yield b"x" * 1000

    response = httpx.post(receiver.callback_url("s3", 1), content=chunks())
    assert response.status_code == 413
    assert pending.callbacks == []
    receiver.release(pending)


def test_quiet_period_gathers_several_callbacks_until_final(receiver):
    pending = receiver.expect("s4", 1)
    url = receiver.callback_url("s4", 1)

    def send_three():
        for i, final in ((1, False), (2, False), (3, True)):
            post(url, {"text": f"part {i}", "messageId": f"p{i}", "final": final})

    sender = gevent.spawn(send_three)
    # A long quiet period: only the final flag can end the gathering early.
    callbacks, _ = receiver.wait(pending, timeout_s=5, quiet_period_s=30)
    assert [c.document["text"] for c in callbacks] == ["part 1", "part 2", "part 3"]
    sender.join(timeout=5)
    receiver.release(pending)


def test_quiet_period_without_final_flag_ends_when_quiet(receiver):
    receiver.final_path = None
    pending = receiver.expect("s5", 1)
    url = receiver.callback_url("s5", 1)
    post(url, {"text": "a", "messageId": "1"})
    post(url, {"text": "b", "messageId": "2"})
    callbacks, _ = receiver.wait(pending, timeout_s=5, quiet_period_s=0.05)
    assert [c.document["text"] for c in callbacks] == ["a", "b"]
    receiver.release(pending)


def test_missing_callback_is_a_webhook_timeout(receiver):
    pending = receiver.expect("s6", 1)
    with pytest.raises(TargetError) as info:
        receiver.wait(pending, timeout_s=0.05)
    assert info.value.kind == ErrorKind.WEBHOOK_TIMEOUT
    receiver.release(pending)
    assert post(receiver.callback_url("s6", 1), {"text": "finally"}).status_code == 410


def test_public_url_template(receiver):
    tunnel = WebhookReceiver(public_url="https://abc.tunnel.example/{port}")
    tunnel.port = 5001
    base, token, session, iteration = tunnel.callback_url("s", 2).rsplit("/", 3)
    assert (base, session, iteration) == ("https://abc.tunnel.example/5001/cb", "s", "2")
    assert len(token) == 22  # the turn's capability token (see tests/security)
    assert receiver.public_url == f"http://127.0.0.1:{receiver.port}"
