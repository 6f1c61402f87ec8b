"""Faults of a webhook API (widget preset): the acknowledgement, the callback, and impostor callbacks."""

import pytest

from convoload_demo.faulty.replies import FORGED_TEXT
from tests.faults.harness import (
    EVERY_SECOND,
    GOAL_TURN,
    SHORT_S,
    FaultRun,
    assert_fault_contract,
    assert_nothing_lost,
    assert_reached_goal,
    make_config,
    run_faults,
    webhook_target,
)

pytestmark = pytest.mark.e2e

RECEIVER_LIMIT = 4096  # bytes; the oversized fault sends twice that
# What our receiver answers each rejected callback; the target tallies the answers it got.
REJECTION_STATUS = {"forged": "403", "unknown": "404", "duplicate": "409", "late": "410"}
REJECTION_STATUS |= {"oversized": "413", "malformed": "400"}


def healthy_turns(run: FaultRun) -> int:
    return sum(1 for r in run.journal for t in r.turns if t.error is None)


def assert_rejected(run: FaultRun, counter: str, count: int) -> None:
    """`count` callbacks were refused as `counter`, and no other callback was refused or accepted."""
    stats = {k: v for k, v in run.target_stats.items() if v}
    assert stats == {"callbacks_accepted": healthy_turns(run), f"callbacks_{counter}": count}
    assert run.server["callbacks"] == {"202": healthy_turns(run), REJECTION_STATUS[counter]: count}
    assert f"{counter}: {count}" in run.console.split("rejected callbacks", 1)[1].splitlines()[0]


@pytest.mark.parametrize(
    ("fault", "kind", "status_code", "text", "rejected_as"),
    [
        pytest.param({"kind": "status", "status": 503}, "http_status", 503, "HTTP 503", None, id="ack-5xx"),
        pytest.param(
            {"kind": "stall", "seconds": 10 * SHORT_S}, "timeout", None, "no response", None, id="ack-timeout"
        ),
        pytest.param(
            {"kind": "no_callback"}, "webhook_timeout", None, "no callback", None, id="never-arrives"
        ),
        pytest.param({"kind": "late"}, "webhook_timeout", None, "no callback", "late", id="late"),
        pytest.param(
            {"kind": "forged"}, "webhook_timeout", None, "no callback", "forged", id="forged-secret"
        ),
        pytest.param(
            {"kind": "oversized", "size_bytes": 2 * RECEIVER_LIMIT},
            "webhook_timeout",
            None,
            "no callback",
            "oversized",
            id="oversized-body",
        ),
        pytest.param(
            {"kind": "malformed"}, "webhook_timeout", None, "no callback", "malformed", id="malformed-json"
        ),
        pytest.param({"kind": "empty"}, "empty_reply", None, "empty 'text'", None, id="empty-reply"),
        pytest.param(
            {"kind": "drop"},
            "connection_lost",
            None,
            "connection broke",
            None,
            id="ack-connection-drop",
        ),
    ],
)
def test_webhook_fault_is_counted_in_its_own_category(
    tmp_path, faulty, fault, kind, status_code, text, rejected_as
):
    faulty.set_faults([{**fault, **EVERY_SECOND}])
    target = webhook_target(faulty, receiver={"max_body_bytes": RECEIVER_LIMIT})
    run = run_faults(make_config(tmp_path, target), 6, 3, faulty)
    hit = assert_fault_contract(run, fault["kind"], kind, status_code=status_code, text=text)
    assert len(hit) == 3
    if rejected_as is not None:
        assert_rejected(run, rejected_as, len(hit))
    else:  # nothing refused; an empty reply still arrived as a well-formed callback
        arrived = healthy_turns(run) + (len(hit) if kind == "empty_reply" else 0)
        assert {k: v for k, v in run.target_stats.items() if v} == {"callbacks_accepted": arrived}
    assert FORGED_TEXT not in "".join(t.reply_text or "" for r in run.journal for t in r.turns)


def test_duplicate_callbacks_are_refused_and_harm_no_conversation(tmp_path, faulty):
    faulty.set_faults([{"kind": "duplicate", "every": 2, "copies": 3}])  # every turn of those conversations
    run = run_faults(make_config(tmp_path, webhook_target(faulty)), 6, 3, faulty)
    assert_nothing_lost(run)
    hit = run.injected("duplicate")
    assert len(hit) == 3 and run.server["injected"] == {"duplicate": 3 * GOAL_TURN}
    assert_reached_goal(run, set(run.by_session()))
    assert run.summary["errors_by_kind"] == {} and run.summary["successful_conversations"] == 6
    assert_rejected(run, "duplicate", 2 * 3 * GOAL_TURN)  # two extra copies of each of those 9 turns
    # each turn got exactly one reply: the copies never reached a live turn
    assert all(len(t.reply_messages) == 1 for r in run.journal for t in r.turns)


@pytest.mark.parametrize(("mode", "rejected_as"), [("secret", "forged"), ("path", "unknown")])
def test_impostor_callbacks_never_reach_a_conversation(tmp_path, faulty, mode, rejected_as):
    faulty.set_faults([{"kind": "forged", "mode": mode, "withhold": False, **EVERY_SECOND}])
    run = run_faults(make_config(tmp_path, webhook_target(faulty)), 6, 3, faulty)
    assert_nothing_lost(run)
    assert len(run.injected("forged")) == 3
    assert_reached_goal(run, set(run.by_session()))
    assert_rejected(run, rejected_as, 3)
    written = "".join(p.read_text(encoding="utf-8") for p in run.run_dir.rglob("*.json*"))
    assert FORGED_TEXT not in written and FORGED_TEXT not in run.html
