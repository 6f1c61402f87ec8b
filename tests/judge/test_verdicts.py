"""The judge's answers: validated against the rubric's schema; a malformed answer is asked for again,
then counted as a judge error (never a crash); an unavailable chain likewise, after its retries."""

from __future__ import annotations

import json

import pytest

from convoload.events import Event, Judged, LLMCalled, LLMError, LLMFallback
from convoload.judge.judge import Judge, JudgeSettings, JudgeTask
from convoload.judge.prompt import InvalidVerdict, parse_verdict, response_format, verdict_model
from convoload.judge.rubric import load_rubric
from convoload.llm.chain import ProviderChain, RetryPolicy
from convoload.llm.client import ProviderClient
from convoload.llm.cost import shipped_prices
from convoload.llm.providers import ProviderSpec
from convoload_demo.llmserver import LocalLLMServer
from tests.helpers import free_port
from tests.judge.helpers import labelled, local_judge

TICKETS = load_rubric("tickets")


def _answer(**overrides: object) -> dict:
    scores = {c.id: {"reason": "looked at turn 1", "score": c.scale.max} for c in TICKETS.criteria}
    scores.update(overrides)  # type: ignore[arg-type]
    return {"criteria": scores}


def test_the_schema_asks_for_every_criterion_on_its_scale() -> None:
    fmt = response_format(TICKETS, "json_schema")
    assert fmt is not None and fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    schema = fmt["json_schema"]["schema"]
    criteria = schema["$defs"]["Criteria"]
    assert set(criteria["required"]) == {c.id for c in TICKETS.criteria}
    assert criteria["additionalProperties"] is False
    goal = schema["$defs"]["Score_goal_resolved"]["properties"]["score"]
    assert (goal["minimum"], goal["maximum"]) == (1, 5)
    prices = schema["$defs"]["Score_prices_match_catalog"]["properties"]["score"]
    assert (prices["minimum"], prices["maximum"]) == (0, 1)
    assert response_format(TICKETS, "prompt") is None


def test_a_valid_answer_parses_also_in_a_code_fence() -> None:
    text = "```json\n" + json.dumps(_answer()) + "\n```"
    scores = parse_verdict(text, TICKETS, verdict_model(TICKETS))
    assert scores["goal_resolved"] == (5, "looked at turn 1")
    assert scores["prices_match_catalog"][0] == 1


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ("the agent did fine", "not JSON"),
        (json.dumps({"criteria": {}}), "criteria.goal_resolved: Field required"),
        (json.dumps(_answer(goal_resolved={"reason": "x", "score": 9})), "criteria.goal_resolved.score"),
        (json.dumps(_answer(whatsapp_tone={"score": 4})), "criteria.whatsapp_tone.reason"),
        (json.dumps({**_answer(), "overall": 5}), "overall: Extra inputs"),
    ],
)
def test_an_invalid_answer_says_what_is_wrong(answer: str, problem: str) -> None:
    with pytest.raises(InvalidVerdict) as caught:
        parse_verdict(answer, TICKETS)
    assert problem in str(caught.value)


@pytest.mark.e2e
def test_malformed_answers_are_asked_again_then_a_judge_error(llm: LocalLLMServer) -> None:
    llm.set_script({"canned": {"broken": ["sure, it was great", json.dumps({"criteria": {}})]}})
    events: list[Event] = []
    judge = local_judge(llm, model="broken", invalid_retries=2, events=events)
    item = labelled("tickets", "good-kataryna")
    judgement = judge.judge(JudgeTask(item.record(), TICKETS))
    assert judgement.status == "judge_error" and judgement.passed is None and judgement.criteria == []
    assert "did not match the rubric's schema" in (judgement.error or "")
    assert judgement.usage.invalid_outputs == 3 and judgement.usage.llm_calls == 3
    assert len(llm.requests()) == 3
    assert [type(e) for e in events if isinstance(e, Judged)] == [Judged]


@pytest.mark.e2e
def test_a_malformed_answer_then_a_valid_one_is_judged(llm: LocalLLMServer) -> None:
    llm.set_script(
        {"canned": {"flaky": ["{not json", json.dumps(_answer(whatsapp_tone={"reason": "r", "score": 2}))]}}
    )
    judge = local_judge(llm, model="flaky")
    judgement = judge.judge(JudgeTask(labelled("tickets", "good-talliz").record(), TICKETS))
    assert judgement.status == "judged" and judgement.usage.invalid_outputs == 1
    retry = llm.requests()[-1]["messages"]
    assert retry[-2] == {"role": "assistant", "content": "{not json"}
    assert retry[-1]["role"] == "user" and "That answer is invalid (not JSON" in retry[-1]["content"]
    tone = judgement.criterion("whatsapp_tone")
    assert tone is not None and (tone.score, tone.passed) == (2, False)
    assert judgement.passed is False  # the tickets rubric: every criterion must pass


@pytest.mark.e2e
def test_an_unavailable_judge_is_a_judge_error_with_role_judge_events(llm: LocalLLMServer) -> None:
    llm.set_script({"faults": [{"kind": "server_error", "times": 20}]})
    events: list[Event] = []
    judge = local_judge(llm, retries=2, events=events)
    judgement = judge.judge(JudgeTask(labelled("tickets", "good-edman").record(), TICKETS))
    assert judgement.status == "judge_error" and "unavailable" in (judgement.error or "")
    errors = [e for e in events if isinstance(e, LLMError)]
    assert len(errors) == 2 and {e.role for e in errors} == {"judge"}  # one per whole-chain attempt
    assert not [e for e in events if isinstance(e, LLMCalled)]
    # 2 attempts of the chain, each a first call and one retry on the same provider
    assert len(llm.requests()) == 4


@pytest.mark.e2e
def test_a_conversation_without_replies_is_not_sent_to_the_judge(llm: LocalLLMServer) -> None:
    record = labelled("tickets", "good-kataryna").record()
    for turn in record.turns:
        turn.reply_text = None
    judgement = local_judge(llm).judge(JudgeTask(record, TICKETS))
    assert judgement.status == "judge_error" and "never replied" in (judgement.error or "")
    assert llm.requests() == []


@pytest.mark.e2e
def test_the_judge_falls_back_to_its_next_provider(llm: LocalLLMServer) -> None:
    gone = ProviderSpec(name="gone", base_url=f"http://127.0.0.1:{free_port()}/v1", model="judge", free=True)
    local = ProviderSpec(name="local", base_url=llm.base_url, model="judge", free=True)
    chain = ProviderChain(
        [ProviderClient(gone, shipped_prices()), ProviderClient(local, shipped_prices())],
        policy=RetryPolicy(retries=0),
    )
    events: list[Event] = []
    judge = Judge(JudgeSettings(chain=chain), emit=events.append)
    judgement = judge.judge(JudgeTask(labelled("tickets", "good-talliz").record(), TICKETS))
    assert judgement.status == "judged" and judgement.judge == "local/judge"
    (fallback,) = [e for e in events if isinstance(e, LLMFallback)]
    assert (fallback.from_provider, fallback.to_provider, fallback.role) == (
        "gone/judge",
        "local/judge",
        "judge",
    )
    assert [e.kind for e in events if isinstance(e, LLMError)] == ["connection_error"]
