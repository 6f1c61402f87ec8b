"""convoload.model's records: what the loop fills in is what the journal writes and what reads back.

The journal line of a conversation is a file format other tools read: it must not change by a byte
when the records' implementation does (turn records are slots dataclasses, filled in by the loop
with plain attribute stores, and still validated by pydantic wherever a record is read back).
"""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from convoload.conversation.goals import RegexGoal
from convoload.conversation.loop import run_conversation
from convoload.events import EventBus
from convoload.model import (
    ConversationRecord,
    ErrorKind,
    Finding,
    Outcome,
    TurnError,
    TurnRecord,
    Usage,
)
from convoload.targets.base import Session
from convoload.targets.python import PythonTarget
from convoload.users.fixed import FixedUser

TURN_FIELDS = [
    "iteration",
    "user_text",
    "sent_at",
    "reply_text",
    "reply_messages",
    "agent",
    "replied_at",
    "latency_ms",
    "ack_ms",
    "error",
    "goal_reached",
    "goal_evidence",
    "usage",
]


def a_record() -> ConversationRecord:
    """A conversation with a reply, a failed turn, a finding and an LLM user's spending."""
    record = ConversationRecord(
        run_id="r", session_id="s", user_id=3, persona="p", identity={"name": "Zé"}, started_at="t0"
    )
    turn = TurnRecord(
        iteration=1, user_text="olá \u2028 <b>", sent_at="t1", usage=Usage(prompt_tokens=3, cost_usd=1e-7)
    )
    record.turns.append(turn)
    turn.reply_text, turn.reply_messages, turn.agent, turn.replied_at = "hi", ["h", "i"], "a", "t2"
    turn.latency_ms, turn.ack_ms, turn.goal_reached, turn.goal_evidence = 12.345, 0.00001, True, "http://x"
    failed = TurnRecord(iteration=2, user_text="x", sent_at="t3")
    record.turns.append(failed)
    failed.error = TurnError(kind=ErrorKind.HTTP_STATUS, message="bad", status_code=500)
    failed.ack_ms = 1.5
    record.error, record.outcome, record.finished_at = failed.error, Outcome.ERROR, "t9"
    record.total_time_ms = 1234.5678
    record.usage.add(
        Usage(prompt_tokens=5, completion_tokens=2, total_tokens=7, cost_usd=0.00012345678, llm_calls=1)
    )
    record.findings.append(
        Finding(
            hook="h",
            priority="critical",
            session_id="s",
            persona="p",
            iteration=1,
            message="m",
            data={"x": 1.0, "y": [1e-9]},
            at="t5",
        )
    )
    return record


# Written by convoload before turn records became dataclasses (pydantic models then).
JOURNAL_LINE = (
    '{"summary":{"run_id":"r","session_id":"s","user_id":3,"persona":"p","outcome":"error","stop_reason":null,'
    '"error":{"kind":"http_status","message":"bad","status_code":500},"iterations":2,"goal_reached":false,'
    '"found_link":false,"started_at":"t0","finished_at":"t9","total_time_ms":1234.568,"tokens":{"prompt":5,'
    '"completion":2,"cached":0,"reasoning":0,"total":7},"total_cost_usd":0.00012346,"llm":{"calls":1,'
    '"replayed_calls":0,"replayed_pct":0.0,"saved_tokens":0,"saved_cost_usd":0.0}},"identity":{"name":"Zé"},'
    '"messages":[{"role":"user","iteration":1,"text":"olá \u2028 <b>","timestamp":"t1"},{"role":"assistant",'
    '"iteration":1,"text":"hi","timestamp":"t2","agent":"a","latency_ms":12.345,"ack_ms":0.0},{"role":"user",'
    '"iteration":2,"text":"x","timestamp":"t3"},{"role":"error","iteration":2,"kind":"http_status","text":"bad",'
    '"status_code":500}],"turns":[{"iteration":1,"user_text":"olá \u2028 <b>","sent_at":"t1",'
    '"reply_text":"hi","reply_messages":["h","i"],"agent":"a","replied_at":"t2","latency_ms":12.345,"ack_ms":0.00001,"error":null,'
    '"goal_reached":true,"goal_evidence":"http://x","usage":{"prompt_tokens":3,"completion_tokens":0,'
    '"total_tokens":0,"cached_tokens":0,"reasoning_tokens":0,"cost_usd":1e-7,"llm_calls":0,"replayed_calls":0,'
    '"saved_tokens":0,"saved_cost_usd":0.0}},{"iteration":2,"user_text":"x","sent_at":"t3","reply_text":null,'
    '"reply_messages":[],"agent":null,"replied_at":null,"latency_ms":null,"ack_ms":1.5,"error":{"kind":'
    '"http_status","message":"bad","status_code":500},"goal_reached":false,"goal_evidence":null,"usage":null}],'
    '"findings":[{"hook":"h","priority":"critical","session_id":"s","persona":"p","iteration":1,"message":"m",'
    '"data":{"x":1.0,"y":[1e-9]},"at":"t5"}]}'
)


def test_the_journal_line_is_byte_for_byte_the_one_written_before() -> None:
    record = a_record()
    assert record.to_json() == JOURNAL_LINE.encode()
    assert record.to_document() == json.loads(JOURNAL_LINE)


def test_a_record_reads_back_as_it_was_written() -> None:
    again = ConversationRecord.from_document(json.loads(JOURNAL_LINE))
    assert again.to_json() == JOURNAL_LINE.encode()
    assert all(isinstance(turn, TurnRecord) for turn in again.turns)
    assert again.turns[1].error == TurnError(kind=ErrorKind.HTTP_STATUS, message="bad", status_code=500)
    assert again.turns[0].usage == Usage(prompt_tokens=3, cost_usd=1e-7)


@pytest.mark.parametrize(
    ("field", "value"),
    [("iteration", "first"), ("error", {"kind": "no_such_kind", "message": "?"}), ("reply_messages", "hi")],
)
def test_turns_read_back_are_validated(field: str, value: object) -> None:
    document = json.loads(JOURNAL_LINE)
    document["turns"][0][field] = value
    with pytest.raises(ValidationError, match=rf"turns\.0\.{field}"):
        ConversationRecord.from_document(document)


def test_usage_add_sums_every_field_and_records_them_as_set() -> None:
    total = Usage(llm_calls=1)
    total.add(Usage(prompt_tokens=2, completion_tokens=3, total_tokens=5, cost_usd=0.25, llm_calls=1))
    total.add(
        Usage(cached_tokens=1, reasoning_tokens=2, replayed_calls=1, saved_tokens=4, saved_cost_usd=0.5)
    )
    expected = Usage(
        prompt_tokens=2,
        completion_tokens=3,
        total_tokens=5,
        cached_tokens=1,
        reasoning_tokens=2,
        cost_usd=0.25,
        llm_calls=2,
        replayed_calls=1,
        saved_tokens=4,
        saved_cost_usd=0.5,
    )
    assert total == expected
    # Written through pydantic, not around it: a dump of what was set keeps the sums.
    assert total.model_dump(exclude_unset=True) == expected.model_dump()


def test_the_loop_fills_in_each_turn_and_the_journal_keeps_it(session: Session) -> None:
    def agent(text: str, session: Session, iteration: int) -> dict:
        if iteration == 1:
            return {"text": ["olá!", "em que posso ajudar?"], "agent": "atendimento"}
        return {"text": "pague em https://pay.example.com/1", "agent": "pagamento"}

    record = run_conversation(
        run_id="r",
        session=session,
        user=FixedUser(["oi", "quero pagar"]),
        target=PythonTarget(agent),
        goal=RegexGoal(r"https://pay\.example\.com/\d+"),
        bus=EventBus(),
    )
    assert record.outcome == Outcome.GOAL_REACHED
    first, second = record.turns
    assert (first.reply_messages, first.reply_text, first.agent) == (
        ["olá!", "em que posso ajudar?"],
        "olá!\n\nem que posso ajudar?",
        "atendimento",
    )
    assert not first.goal_reached and first.replied_at is not None and first.latency_ms is not None
    assert second.goal_reached and second.goal_evidence == "https://pay.example.com/1"
    line = json.loads(record.to_json())
    assert [list(turn) for turn in line["turns"]] == [TURN_FIELDS, TURN_FIELDS]
    assert line["turns"][1]["agent"] == "pagamento" and line["turns"][1]["goal_reached"] is True
    assert ConversationRecord.from_document(line).to_json() == record.to_json()
