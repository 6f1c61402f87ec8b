"""Each callback URL opens one turn of one conversation: a leaked URL opens nothing else.

The probe of issue 14: one per-run secret sat in every callback URL, so whoever saw one URL (the
agent, a tunnel's log, the ticket agent's own warning line) could answer *another* conversation's
pending turn with a payment link; it was accepted, the conversation counted as goal reached, and the
real reply as late. Real receiver, real forwarder, real faulty agent, real runs.
"""

import json

import gevent
import httpx
import pytest

from convoload.load.forwarder import CallbackForwarder
from convoload.targets.receiver import WebhookReceiver
from convoload_demo.faulty.replies import FORGED_TEXT
from tests.faults.harness import (
    GOAL_TURN,
    assert_nothing_lost,
    assert_reached_goal,
    make_config,
    run_faults,
    webhook_target,
)


@pytest.fixture
def receiver():
    r = WebhookReceiver(max_body_bytes=4096).start()
    yield r
    r.stop()


def post(url, body, **kwargs):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(url, content=data, headers={"Content-Type": "application/json"}, timeout=10, **kwargs)


def path_of(url: str) -> tuple[str, str, str, str]:
    """(base up to /cb, token, session, iteration) of a callback URL."""
    base, token, session, iteration = url.rsplit("/", 3)
    return base, token, session, iteration


def test_a_url_leaked_for_one_conversation_cannot_answer_another(receiver):
    victim = receiver.expect("victim", 2)
    leaked = receiver.callback_url("attacker-saw-this", 2)
    base, token, _, _ = path_of(leaked)
    # The attacker keeps the token and aims the path at the victim's turn in flight.
    answer = post(f"{base}/{token}/victim/2", {"text": "pay at https://evil.example/x", "messageId": "e"})
    assert answer.status_code == 403 and answer.json() == {"status": "forged"}
    assert victim.callbacks == [] and not victim.first.ready()
    # The victim's own URL still works: the forged callback took nothing from it.
    assert post(receiver.callback_url("victim", 2), {"text": "real", "messageId": "r"}).status_code == 202
    callbacks, _ = receiver.wait(victim, timeout_s=5)
    assert [c.document["text"] for c in callbacks] == ["real"]
    receiver.release(victim)
    assert receiver.counters == {"forged": 1, "accepted": 1}


def test_an_earlier_turns_url_is_late_and_never_reaches_the_turn_in_flight(receiver):
    first = receiver.expect("s1", 1)
    first_url = receiver.callback_url("s1", 1)
    assert post(first_url, {"text": "turn 1", "messageId": "1"}).status_code == 202
    receiver.wait(first, timeout_s=5)
    receiver.release(first)
    second = receiver.expect("s1", 2)
    # Replayed as it is: late. With its path moved on to the turn in flight: forged.
    assert post(first_url, {"text": "replayed", "messageId": "x"}).status_code == 410
    base, token, _, _ = path_of(first_url)
    assert post(f"{base}/{token}/s1/2", {"text": "moved on", "messageId": "y"}).status_code == 403
    assert second.callbacks == []
    receiver.release(second)
    assert receiver.counters == {"accepted": 1, "late": 1, "forged": 1}


def test_tokens_differ_per_conversation_turn_and_run_and_hold_no_run_secret():
    one = WebhookReceiver(secret="run-secret-one")
    other = WebhookReceiver(secret="run-secret-two")
    urls = {one.callback_url(s, i) for s in ("a", "b") for i in (1, 2)}
    tokens = {path_of(u)[1] for u in urls}
    assert len(tokens) == 4 and all(len(t) == 22 for t in tokens)
    assert path_of(other.callback_url("a", 1))[1] not in tokens  # another run: another token
    assert not any("run-secret" in u for u in urls)
    assert one.callback_url("a", 1) == one.callback_url("a", 1)  # stable: a retried callback still fits


@pytest.mark.parametrize(
    "path",
    [
        "/cb/{token}/s1/" + "9" * 5000,  # int() refuses over 4,300 digits (ValueError -> 500 before)
        "/cb/{token}/s1/" + "1" * 40,
        "/cb/{token}/s1/\u00b2",  # "²": str.isdigit says yes, int() says no
        "/cb/{token}/s1/%C2%B2",  # the same, percent-encoded
        "/cb/{token}/s1/-1",
        "/cb/{token}/s1/1/extra",
        "/cb/{token}//1",
        "/cb/{token}/s1",
        "/cb",
        "/",
        "/cb/%FF%FE/s1/1/",
        "/cb/\u00e9t\u00e9/s1/1",
    ],
)
def test_junk_paths_are_counted_unknown_or_forged_never_a_server_error(receiver, path):
    pending = receiver.expect("s1", 1)
    token = path_of(receiver.callback_url("s1", 1))[1]
    answer = post(f"{receiver.public_url}{path.format(token=token)}", {"text": "x", "messageId": "m"})
    assert answer.status_code in (403, 404), answer.text
    verdict = {403: "forged", 404: "unknown"}[answer.status_code]
    assert answer.json() == {"status": verdict} and receiver.counters == {verdict: 1}
    assert pending.callbacks == []
    receiver.release(pending)


def test_the_forwarder_refuses_an_absurd_worker_index_with_a_404():
    forwarder = CallbackForwarder(timeout_s=5).start()
    try:
        answer = post(f"{forwarder.public_url}/w/{'7' * 5000}/cb/t/s/1", {"text": "x"})
        assert answer.status_code == 404 and answer.json() == {"status": "unknown_worker"}
        assert forwarder.stats() == {"unknown_worker": 1}
    finally:
        forwarder.stop()


def test_callbacks_forwarded_by_the_master_keep_their_capabilities():
    forwarder = CallbackForwarder(timeout_s=5).start()
    receiver = WebhookReceiver(worker_index=0, callback_base=forwarder.worker_base(0)).start()
    forwarder.route(0, receiver.public_url)
    try:
        victim = receiver.expect("victim", 1)
        base, token, _, _ = path_of(receiver.callback_url("other", 1))
        assert post(f"{base}/{token}/victim/1", {"text": "evil"}).status_code == 403
        sender = gevent.spawn(post, receiver.callback_url("victim", 1), {"text": "real", "messageId": "1"})
        callbacks, _ = receiver.wait(victim, timeout_s=5)
        assert [c.document["text"] for c in callbacks] == ["real"] and sender.get(
            timeout=5
        ).status_code == 202
        receiver.release(victim)
        assert forwarder.stats() == {"forwarded": 1, "worker_403": 1}
    finally:
        receiver.stop()
        forwarder.stop()


@pytest.mark.e2e
def test_a_stolen_url_cannot_win_another_conversations_goal_in_a_real_run(tmp_path, faulty):
    """The probe itself: the agent (or whoever read its log) answers conversation Y's turn with the
    token from conversation X's URL and a payment link, and holds Y's real reply back."""
    faulty.set_faults([{"kind": "forged", "mode": "stolen", "every": 2, "turn": 2}])
    run = run_faults(make_config(tmp_path, webhook_target(faulty)), 6, 3, faulty)
    assert_nothing_lost(run)
    hit = set(run.injected("forged"))
    assert len(hit) == 3
    records = run.by_session()
    for session in hit:  # no reply came but the impostor's: the turn timed out, no goal
        assert (
            records[session].outcome.value == "error"
            and records[session].error.kind.value == "webhook_timeout"
        )
    assert_reached_goal(run, set(records) - hit)
    assert run.target_stats["callbacks_forged"] == 3 and run.server["callbacks"].get("403") == 3
    assert run.summary["successful_conversations"] == 3
    written = "".join(p.read_text(encoding="utf-8") for p in run.run_dir.rglob("*.json*"))
    assert FORGED_TEXT not in written and FORGED_TEXT not in run.html


@pytest.mark.e2e
def test_a_replayed_url_of_an_earlier_turn_stays_late_in_a_real_run(tmp_path, faulty):
    faulty.set_faults([{"kind": "forged", "mode": "replay", "withhold": False, "every": 2, "turn": 2}])
    run = run_faults(make_config(tmp_path, webhook_target(faulty)), 6, 3, faulty)
    assert_nothing_lost(run)
    assert len(run.injected("forged")) == 3
    assert_reached_goal(run, set(run.by_session()))
    stats = {k: v for k, v in run.target_stats.items() if v}
    assert stats == {"callbacks_accepted": 6 * GOAL_TURN, "callbacks_late": 3}
    assert FORGED_TEXT not in "".join(t.reply_text or "" for r in run.journal for t in r.turns)
