"""Faults of a synchronous HTTP chat API, each in a real run with healthy conversations beside it."""

import pytest

from tests.faults.harness import (
    EVERY_SECOND,
    SHORT_S,
    assert_counted,
    assert_failed_with,
    assert_fault_contract,
    assert_nothing_lost,
    assert_reached_goal,
    chat_target,
    make_config,
    run_faults,
)
from tests.helpers import free_port


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("fault", "kind", "status_code", "text"),
    [
        pytest.param({"kind": "status", "status": 500}, "http_status", 500, "HTTP 500", id="5xx-500"),
        pytest.param({"kind": "status", "status": 503}, "http_status", 503, "HTTP 503", id="5xx-503"),
        pytest.param(
            {"kind": "stall", "seconds": 10 * SHORT_S}, "timeout", None, "no response", id="timeout"
        ),
        pytest.param({"kind": "malformed"}, "malformed_reply", None, "not valid JSON", id="malformed-json"),
        pytest.param({"kind": "empty"}, "empty_reply", None, "empty 'reply'", id="empty-reply"),
        # 5 MiB: over the connector's 4 MiB reply limit, refused from the declared length (status 200).
        pytest.param({"kind": "oversized"}, "malformed_reply", 200, "byte limit", id="oversized-body"),
        pytest.param(
            {"kind": "drop"},
            "connection_lost",
            None,
            "connection broke",
            id="connection-drop",
        ),
    ],
)
def test_chat_fault_is_counted_in_its_own_category(tmp_path, faulty, fault, kind, status_code, text):
    faulty.set_faults([{**fault, **EVERY_SECOND}])
    run = run_faults(make_config(tmp_path, chat_target(faulty)), 6, 3, faulty)
    hit = assert_fault_contract(run, fault["kind"], kind, status_code=status_code, text=text)
    assert len(hit) == 3
    assert all(len(run.by_session()[s].turns) == 2 for s in hit)
    assert run.aggregate["assessment"]["recommendations"][0].startswith("3 ")


def test_connection_refused_fails_every_conversation_and_loses_none(tmp_path):
    config = make_config(tmp_path, {"type": "http", "url": f"http://127.0.0.1:{free_port()}/v1/chat"})
    run = run_faults(config, 4, 2)
    assert_nothing_lost(run)
    assert_failed_with(run, {r.session_id for r in run.journal}, "connection_refused", text="cannot connect")
    assert_counted(run, "connection_refused", 4)
    assert all(len(r.turns) == 1 for r in run.journal)


@pytest.mark.e2e
def test_several_faults_in_one_run_keep_their_own_categories(tmp_path, faulty):
    plan = [
        {"kind": "status", "status": 502, "conversations": [2]},
        {"kind": "stall", "seconds": 10 * SHORT_S, "conversations": [3], "turn": 2},
        {"kind": "malformed", "conversations": [4], "turn": 3},
        {"kind": "empty", "conversations": [5]},
        {"kind": "oversized", "conversations": [6], "turn": 2},
    ]
    faulty.set_faults(plan)
    run = run_faults(make_config(tmp_path, chat_target(faulty)), 8, 3, faulty)
    assert_nothing_lost(run)
    expected = {"status": "http_status", "stall": "timeout", "malformed": "malformed_reply"}
    expected |= {"empty": "empty_reply", "oversized": "malformed_reply"}
    by_session = {i["session_id"]: i for i in run.server["injections"]}
    assert sorted(i["kind"] for i in by_session.values()) == sorted(expected)
    failed = run.failed()
    assert set(failed) == set(by_session)
    for session, injection in by_session.items():
        assert failed[session].error.kind.value == expected[injection["kind"]]
        assert failed[session].iterations == injection["turn"]
    assert run.summary["errors_by_kind"] == {
        "empty_reply": 1,
        "http_status": 1,
        "malformed_reply": 2,
        "timeout": 1,
    }
    assert_reached_goal(run, set(run.by_session()) - set(by_session))
    assert run.summary["successful_conversations"] == 3
    for line in ("http_status: 1", "timeout: 1", "malformed_reply: 2", "empty_reply: 1"):
        assert line in run.console
