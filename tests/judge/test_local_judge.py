"""The bundled local provider plays a deterministic judge: over HTTP, through the real OpenAI client,
with a reason per criterion that names what decided it."""

from __future__ import annotations

import pytest

from convoload.config import Config
from convoload.judge.setup import RubricChooser
from convoload_demo.llmserver import LocalLLMServer
from convoload_demo.llmserver.judge import kind_of
from convoload_demo.llmserver.judge_checks import language_of, money
from tests.judge.helpers import labelled, local_judge

CHOOSER = RubricChooser(Config())

# The bundled local provider (the judge) runs as a process of its own.
pytestmark = pytest.mark.e2e


def _judge(llm: LocalLLMServer, rubric: str, part: str):
    item = labelled(rubric, part)
    return local_judge(llm).judge(CHOOSER.task_with(item.record(), CHOOSER.load(rubric)))


def test_a_good_conversation_passes_every_criterion(llm: LocalLLMServer) -> None:
    judgement = _judge(llm, "tickets", "good-kataryna")
    assert judgement.status == "judged" and judgement.passed is True and judgement.score == 1.0
    assert judgement.judge == "local/judge"
    goal = judgement.criterion("goal_resolved")
    assert goal is not None and goal.score == 5 and "https://pay.example.com" in goal.reason
    request = llm.requests()[-1]
    fmt = request["params"]["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["name"] == "convoload_judgement"
    assert request["params"]["temperature"] == 0.0


@pytest.mark.parametrize(
    ("rubric", "part", "criterion", "score", "in_reason"),
    [
        ("tickets", "wrong-unit-price", "prices_match_catalog", 0, "costs R$ 60.00, the agent said R$ 65.00"),
        ("tickets", "wrong-total", "prices_match_catalog", 0, "add up to R$ 150.00, not R$ 180.00"),
        ("tickets", "early-cpf", "personal_data_when_needed", 1, "before the customer chose"),
        ("tickets", "english-replies", "customer_language", 1, "not in the customer's language (pt)"),
        ("tickets", "rude", "whatsapp_tone", 1, "ja falei"),
        ("tickets", "formal-letter", "whatsapp_tone", 2, "formal letter"),
        ("tickets", "no-goal", "goal_resolved", 1, "no payment link"),
        ("realestate", "invented-listing", "no_invented_listings", 0, "#48213 is not in the catalog"),
        (
            "realestate",
            "wrong-condo-fee",
            "no_invented_listings",
            0,
            "condo is R$ 490, the agent said R$ 350",
        ),
        (
            "realestate",
            "cpf-for-visit",
            "personal_data_when_needed",
            2,
            "cpf, which this service does not need",
        ),
        ("realestate", "portuguese-to-english", "customer_language", 1, "(en)"),
    ],
)
def test_a_flaw_fails_its_criterion_with_a_reason(
    llm: LocalLLMServer, rubric: str, part: str, criterion: str, score: int, in_reason: str
) -> None:
    judgement = _judge(llm, rubric, part)
    scored = judgement.criterion(criterion)
    assert scored is not None and scored.score == score and not scored.passed
    assert in_reason in scored.reason
    if rubric == "tickets":  # every criterion must pass (the real-estate rubric weighs them)
        assert judgement.passed is False


def test_an_english_conversation_quoting_portuguese_titles_stays_in_english(llm: LocalLLMServer) -> None:
    judgement = _judge(llm, "realestate", "good-marcus")
    language = judgement.criterion("customer_language")
    assert language is not None and language.score == 5 and "(en)" in language.reason


@pytest.mark.parametrize(("mode", "sent"), [("json_object", {"type": "json_object"}), ("prompt", None)])
def test_providers_without_json_schema_get_the_shape_in_the_prompt(
    llm: LocalLLMServer, mode: str, sent: dict | None
) -> None:
    item = labelled("tickets", "early-cpf")
    judge = local_judge(llm, structured_output=mode)
    judgement = judge.judge(CHOOSER.task_with(item.record(), CHOOSER.load("tickets")))
    assert judgement.status == "judged" and judgement.passed is False
    request = llm.requests()[-1]
    assert request["params"].get("response_format") == sent
    assert '{"criteria": {"<criterion id>"' in request["messages"][0]["content"]


def test_the_local_judge_is_deterministic(llm: LocalLLMServer) -> None:
    first = _judge(llm, "realestate", "wrong-price")
    second = _judge(llm, "realestate", "wrong-price")
    assert [c.model_dump() for c in first.criteria] == [c.model_dump() for c in second.criteria]
    assert len(llm.requests()) == 2  # no cache in between: two real answers, the same


def test_a_model_the_script_names_is_not_judged_here(llm: LocalLLMServer) -> None:
    llm.set_script({"models": {"judge": "echo"}})
    judgement = _judge(llm, "tickets", "good-edman")
    assert judgement.status == "judge_error" and "not JSON" in (judgement.error or "")


@pytest.mark.parametrize(
    ("text", "value"),
    [("60,00", 60.0), ("220.000", 220000.0), ("1.234,56", 1234.56), ("4,500", 4500.0), ("1,234.56", 1234.56)],
)
def test_money_is_read_in_both_conventions(text: str, value: float) -> None:
    assert money(text) == value


def test_language_and_criterion_kinds() -> None:
    assert language_of("Quantas pessoas vão e de quais categorias?") == "pt"
    assert language_of("How many people are going, and in which categories?") == "en"
    assert language_of("ok 👍") is None
    assert kind_of({"id": "goal_resolved", "description": "a visit booked to a listing"}) == "goal"
    assert kind_of({"id": "c1", "description": "No listing or price the catalog lacks"}) == "facts"
    assert kind_of({"id": "empathy", "description": "shows empathy"}) is None
