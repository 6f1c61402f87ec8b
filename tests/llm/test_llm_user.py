"""LLM-driven simulated users, end to end, against the local provider playing the personas."""

import json
import logging

import pytest

from convoload.config import Config
from convoload.conversation.goals import LinkGoal
from convoload.conversation.loop import run_conversation
from convoload.events import EventBus, LLMCalled, LLMFallback
from convoload.identity import IdentityFactory
from convoload.llm.cache import LLMCache
from convoload.llm.chain import ProviderChain, RetryPolicy
from convoload.llm.client import ProviderClient
from convoload.llm.cost import shipped_prices
from convoload.llm.providers import ProviderSpec
from convoload.load.context import RunContext
from convoload.load.engine import run_load
from convoload.model import ErrorKind, Outcome
from convoload.personas import builtin_personas
from convoload.store.journal import read_journal
from convoload.targets.base import Session
from convoload.targets.python import PythonTarget
from convoload.users.llm import START, STOP, LLMSettings, LLMUser, conversation_messages, system_prompt
from convoload_demo.llmserver.launcher import LocalLLMServer
from convoload_demo.tickets.assistant import TicketAssistant

pytestmark = pytest.mark.e2e

SECRET = "sk-convoload-secret-4f9a2b7c"


@pytest.fixture(scope="module")
def server():
    with LocalLLMServer({"api_key": SECRET}) as llm:
        yield llm


@pytest.fixture(autouse=True)
def key(server, monkeypatch):
    monkeypatch.setenv("CONVOLOAD_TEST_LLM_KEY", SECRET)
    server.reset()
    server.set_script({})


def settings(server, model="gemini-2.5-flash", cache=None, replay=False, retries=3):
    spec = ProviderSpec(
        name="gemini", base_url=server.base_url, model=model, api_key_env="CONVOLOAD_TEST_LLM_KEY"
    )
    chain = ProviderChain([ProviderClient(spec, shipped_prices())], policy=RetryPolicy(retries=0))
    return LLMSettings(chain=chain, cache=cache, replay=replay, retries=retries)


def converse(persona, llm, index=0, mixed=False, bus=None):
    assistant = TicketAssistant()

    def agent(text, session, iteration):
        return {"text": assistant.reply(session.session_id, text).messages, "agent": "lia"}

    identity = IdentityFactory(21).identity(index)
    session = Session(f"s{index}", index + 1, persona.name, identity)
    bus = bus or EventBus()
    user = LLMUser(persona, identity, llm, mixed=mixed, emit=bus.emit, session_id=session.session_id)
    return run_conversation(
        run_id="t", session=session, user=user, target=PythonTarget(agent), goal=LinkGoal(), bus=bus
    )


def test_prompt_carries_persona_identity_and_guidelines():
    persona = builtin_personas()["talliz"]
    identity = IdentityFactory(1).identity(0)
    prompt = system_prompt(persona, identity)
    assert "WhatsApp" in prompt and STOP in prompt and "Nunca invente" in prompt
    block = json.loads(prompt.split("<persona>")[1].split("</persona>")[0])
    assert block["facts"]["alternative_date"] == "21/11" and block["identity"]["cpf"] == identity.cpf
    messages = conversation_messages(prompt, [])
    assert [m["role"] for m in messages] == ["system", "user"] and messages[1]["content"] == START


@pytest.mark.parametrize("name", ["kataryna", "talliz", "edman"])
def test_llm_user_completes_the_ticket_personas(server, name):
    bus = EventBus()
    calls = []
    bus.subscribe(LLMCalled, calls.append)
    record = converse(builtin_personas()[name], settings(server), bus=bus)
    assert record.outcome == Outcome.GOAL_REACHED, [(t.user_text, t.reply_text) for t in record.turns]
    assert record.usage.llm_calls == record.iterations == len(calls)
    assert record.usage.prompt_tokens > 0 and record.usage.cost_usd > 0
    assert record.usage.cost_usd == pytest.approx(sum(c.cost_usd for c in calls))
    assert [t.usage.llm_calls for t in record.turns] == [1] * record.iterations  # per-turn usage
    assert sum(t.usage.total_tokens for t in record.turns) == record.usage.total_tokens
    sent = server.requests()
    assert all(r["authorization"] for r in sent)
    assert sent[0]["messages"][-1]["content"] == START
    assert all(m["role"] in {"system", "user", "assistant"} for r in sent for m in r["messages"])


def test_mixed_mode_sends_the_persona_steps_first(server):
    persona = builtin_personas()["kataryna"]
    record = converse(persona, settings(server), mixed=True)
    assert record.turns[0].user_text == persona.steps[0]
    assert record.usage.llm_calls == record.iterations - 1 and record.outcome == Outcome.GOAL_REACHED


def test_llm_failure_fails_the_conversation_with_a_classified_error(server):
    server.set_script({"faults": [{"kind": "server_error", "times": 10}]})
    bus = EventBus()
    record = converse(builtin_personas()["edman"], settings(server, retries=3), bus=bus)
    assert record.outcome == Outcome.ERROR and record.error.kind == ErrorKind.LLM
    assert "server_error" in record.error.message and len(server.requests()) == 3


def test_fallback_events_reach_the_bus(server):
    server.set_script({"faults": [{"kind": "server_error", "times": 1, "model": "primary-model"}]})
    specs = [
        ProviderSpec(name=n, base_url=server.base_url, model=m, api_key_env="CONVOLOAD_TEST_LLM_KEY")
        for n, m in (("openrouter", "primary-model"), ("ollama", "fallback-model"))
    ]
    chain = ProviderChain([ProviderClient(s, shipped_prices()) for s in specs], policy=RetryPolicy(retries=0))
    bus = EventBus()
    fallbacks = []
    bus.subscribe(LLMFallback, fallbacks.append)
    record = converse(builtin_personas()["kataryna"], LLMSettings(chain=chain), bus=bus)
    assert record.outcome == Outcome.GOAL_REACHED
    assert [(f.from_provider, f.to_provider, f.reason) for f in fallbacks] == [
        ("openrouter/primary-model", "ollama/fallback-model", "server_error")
    ]


def test_replay_serves_every_call_of_an_identical_second_run(server, tmp_path):
    cache = LLMCache(tmp_path / "cache.sqlite")
    persona = builtin_personas()["talliz"]
    first = converse(persona, settings(server, cache=cache))
    recorded_requests = len(server.requests())
    second = converse(persona, settings(server, cache=cache, replay=True))
    assert len(server.requests()) == recorded_requests  # no provider call at all
    assert [t.user_text for t in second.turns] == [t.user_text for t in first.turns]
    assert second.usage.replayed_calls == first.usage.llm_calls and second.usage.llm_calls == 0
    assert second.usage.saved_tokens == first.usage.total_tokens
    assert second.usage.saved_cost_usd == pytest.approx(first.usage.cost_usd)
    assert second.usage.total_tokens == 0 and second.usage.cost_usd == 0
    cache.close()


def test_replay_calls_the_llm_only_where_the_conversation_diverges(server, tmp_path):
    cache = LLMCache(tmp_path / "cache.sqlite")
    converse(builtin_personas()["kataryna"], settings(server, cache=cache))
    before = len(server.requests())
    # Same persona and identity, but the agent now answers differently from the second turn on.
    assistant = TicketAssistant(closed_dates=set())
    identity = IdentityFactory(21).identity(0)
    persona = builtin_personas()["kataryna"]
    session = Session("s0", 1, persona.name, identity)
    replies = iter(["Oi! Antes de começar: você aceita receber novidades e promoções pelo WhatsApp? 😊"])

    def agent(text, s, iteration):
        first = next(replies, None)
        return first if first is not None else assistant.reply("other", text).messages

    user = LLMUser(persona, identity, settings(server, cache=cache, replay=True))
    record = run_conversation(
        run_id="t", session=session, user=user, target=PythonTarget(agent), goal=LinkGoal(), bus=EventBus()
    )
    assert record.usage.replayed_calls >= 1 and record.usage.llm_calls >= 1
    assert len(server.requests()) - before == record.usage.llm_calls
    cache.close()


def test_runs_keep_secrets_out_of_records_and_logs(server, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    config = Config.model_validate(
        {
            "run": {"seed": 3, "runs_dir": str(tmp_path / "runs"), "persona_assignment": "round_robin"},
            "user": {"type": "llm"},
            "llm": {
                "providers": [
                    {
                        "name": "gemini",
                        "model": "gemini-2.5-flash",
                        "base_url": server.base_url,
                        "api_key_env": "CONVOLOAD_TEST_LLM_KEY",
                    }
                ],
                "cache_path": str(tmp_path / "cache.sqlite"),
            },
            "target": {"type": "python", "function": "convoload_demo.tickets.inprocess:reply"},
        }
    )
    context = RunContext(config)
    try:
        result = run_load(context, 3, 3)
        document = context.aggregate()
    finally:
        context.close()
    summary = document["summary"]
    assert summary["successful_conversations"] == 3 and summary["llm"]["calls"] > 0
    assert summary["tokens"]["total"] > 0 and summary["total_cost_usd"] > 0
    assert (
        document["summary"]["llm"]["by_provider"]["gemini/gemini-2.5-flash"]["calls"]
        == summary["llm"]["calls"]
    )
    llm_entries = [e for e in result.stats.entries.values() if e.method == "LLM"]
    assert llm_entries and llm_entries[0].name == "gemini/gemini-2.5-flash"
    assert sum(e.num_requests for e in llm_entries) == summary["llm"]["calls"]
    written = "".join(p.read_text() for p in context.run_dir.rglob("*") if p.is_file())
    assert written and SECRET not in written
    assert SECRET not in (tmp_path / "cache.sqlite").read_bytes().decode("latin-1")
    assert SECRET not in caplog.text
    assert len(read_journal(context.run_dir / "journal.jsonl")) == 3
