"""Replies split into several messages, cut inside the very link the customer came for.

Messenger-style agents cut long text wherever a message ends (`...PIX: http` + `s://pay.example/...`).
The faulty target's `split` fault does exactly that on every turn; the conversation must still reach
its goal in the turn that carries the link, with the whole link as evidence, whether the pieces
arrive as callbacks (gathered by their `final` flag, or by a quiet period) or as a list from a chat
API. The receiver's part is tested alone first: a callback marked `final: false` keeps its turn open.
"""

from __future__ import annotations

import json

import gevent
import httpx
import pytest

from convoload.targets.receiver import WebhookReceiver
from convoload_demo.faulty.replies import PAYMENT_URL
from tests.faults.harness import (
    GOAL_TURN,
    SHORT_S,
    FaultRun,
    assert_nothing_lost,
    chat_target,
    make_config,
    run_faults,
    webhook_target,
)


def post(url: str, body: dict) -> httpx.Response:
    return httpx.post(url, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"})


@pytest.fixture
def receiver():
    r = WebhookReceiver(final_path="final").start()
    yield r
    r.stop()


def test_a_callback_marked_not_final_keeps_the_turn_open_without_a_quiet_period(receiver):
    pending = receiver.expect("s1", 1)
    url = receiver.callback_url("s1", 1)
    assert post(url, {"text": "Pague pelo PIX: http", "messageId": "a", "final": False}).status_code == 202
    later = gevent.spawn(post, url, {"text": "s://pay.example.com/pix/1", "messageId": "b", "final": True})
    callbacks, _ = receiver.wait(pending, timeout_s=5)  # quiet period 0, as by default
    assert [c.document["text"] for c in callbacks] == ["Pague pelo PIX: http", "s://pay.example.com/pix/1"]
    assert not pending.cut_short
    assert later.get(timeout=5).status_code == 202
    receiver.release(pending)
    assert receiver.counters == {"accepted": 2}


def test_a_turn_whose_final_callback_never_comes_keeps_what_arrived(receiver):
    pending = receiver.expect("s2", 1)
    post(receiver.callback_url("s2", 1), {"text": "first half", "messageId": "a", "final": False})
    callbacks, _ = receiver.wait(pending, timeout_s=0.2)
    assert [c.document["text"] for c in callbacks] == ["first half"] and pending.cut_short
    receiver.release(pending)


def test_without_a_final_flag_the_first_callback_still_ends_the_turn(receiver):
    pending = receiver.expect("s3", 1)
    post(receiver.callback_url("s3", 1), {"text": "whole reply", "messageId": "a"})
    callbacks, _ = receiver.wait(pending, timeout_s=5)
    assert len(callbacks) == 1 and not pending.cut_short
    receiver.release(pending)


def assert_link_reached_in_its_turn(run: FaultRun, parts: int) -> None:
    """Every conversation reached its goal in the turn with the link, and recorded the whole link."""
    assert_nothing_lost(run)
    assert run.summary["successful_conversations"] == run.conversations
    assert run.summary["errors_by_kind"] == {}
    injections = run.injected("split")
    assert set(injections) == set(run.by_session())
    for session, record in run.by_session().items():
        assert record.iterations == GOAL_TURN, [t.reply_messages for t in record.turns]
        last = record.turns[-1]
        link = PAYMENT_URL.format(conversation=injections[session]["conversation"])
        assert len(last.reply_messages) == parts and link not in "".join(last.reply_messages[:1])
        assert last.goal_reached and last.goal_evidence == link
        assert run.files[session]["turns"][-1]["goal_evidence"] == link
        assert all(len(t.reply_messages) == parts for t in record.turns)


@pytest.mark.e2e
@pytest.mark.parametrize("parts", [2, 3])
def test_callbacks_split_inside_the_link_reach_the_goal_with_the_default_quiet_period(
    tmp_path, faulty, parts
):
    # The widget preset reads the `final` flag: no quiet period needed, no piece arrives `late`.
    faulty.set_faults([{"kind": "split", "parts": parts}])
    run = run_faults(make_config(tmp_path, webhook_target(faulty)), 4, 2, faulty)
    assert_link_reached_in_its_turn(run, parts)
    turns = run.summary["total_turns"]
    assert {k: v for k, v in run.target_stats.items() if v} == {"callbacks_accepted": parts * turns}
    assert run.server["callbacks"] == {"202": parts * turns}


@pytest.mark.e2e
def test_callbacks_split_inside_the_link_gathered_by_a_quiet_period(tmp_path, faulty):
    # An API without a final flag: the quiet period gathers the pieces.
    faulty.set_faults([{"kind": "split"}])
    target = webhook_target(
        faulty,
        preset=None,
        body={
            "text": "{text}",
            "channelId": "split-suite",
            "clientIdentifier": "{session_id}",
            "webhook": "{webhook_url}",
        },
        reply_path="text",
        message_id_path="messageId",
        quiet_period_s=0.3,
        timeout_s=5 * SHORT_S,
    )
    run = run_faults(make_config(tmp_path, target), 2, 2, faulty)
    assert_link_reached_in_its_turn(run, 2)
    assert run.target_stats.get("callbacks_late", 0) == 0


@pytest.mark.e2e
def test_a_chat_reply_split_into_a_list_inside_the_link(tmp_path, faulty):
    faulty.set_faults([{"kind": "split", "parts": 3}])
    run = run_faults(make_config(tmp_path, chat_target(faulty)), 2, 2, faulty)
    assert_link_reached_in_its_turn(run, 3)


@pytest.mark.e2e
def test_a_pattern_goal_and_a_regex_goal_see_the_mended_link(tmp_path, faulty):
    for goal in (
        {"type": "link", "pattern": r"pay\.example\.com/pix/faulty-\d{5}"},
        {"type": "regex", "pattern": r"https://pay\.example\.com/pix/faulty-\d{5}"},
    ):
        faulty.set_faults([{"kind": "split", "parts": 3}])
        config = make_config(tmp_path / goal["type"], webhook_target(faulty), goal=goal)
        run = run_faults(config, 2, 2, faulty)
        assert_link_reached_in_its_turn(run, 3)
