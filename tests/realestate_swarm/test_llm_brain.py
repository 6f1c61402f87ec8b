"""LLMBrain through the bundled local OpenAI-compatible provider (loopback only, no real providers)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from convoload.llm.chain import ProviderChain, RetryPolicy
from convoload.llm.client import ProviderClient
from convoload.llm.cost import shipped_prices
from convoload.llm.providers import ProviderSpec
from convoload_demo.llmserver import LocalLLMServer
from convoload_demo.realestate.swarm import LLMBrain, LLMCall, SwarmEvent, SwarmOrchestrator, ToolResult
from tests.realestate_swarm.fakes import FakeCatalog

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def llm() -> Iterator[LocalLLMServer]:
    with LocalLLMServer() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh(llm: LocalLLMServer) -> None:
    llm.reset()


def chain(llm: LocalLLMServer, *models: str, native: bool = True) -> ProviderChain:
    specs = [
        ProviderSpec(
            name=f"p{i}", base_url=llm.base_url, model=m, native_tools=native, free=True, timeout_s=10
        )
        for i, m in enumerate(models, start=1)
    ]
    # No retries: a failing provider falls through at once, and nothing sleeps.
    return ProviderChain([ProviderClient(s, shipped_prices()) for s in specs], policy=RetryPolicy(retries=0))


def tool_script(
    name: str, arguments: dict[str, Any] | None = None, *, as_text: bool = False
) -> dict[str, Any]:
    return {
        "models": {"m": "tool"},
        "tool_call": {"name": name, "arguments": arguments or {}, "as_text": as_text},
    }


def test_native_tool_calls_search_then_transfer_then_message(llm: LocalLLMServer) -> None:
    # The tool model repeats its scripted call, so the next script is loaded after each model call.
    scripts = [
        tool_script("transfer_to_busca"),
        tool_script(
            "search_properties", {"city": "Curitiba", "transaction_type": "sale", "price_max": 650000}
        ),
        tool_script("transfer_to_imovel"),
        {"models": {"m": "canned"}, "canned": {"m": ["O apartamento #11 fica no Água Verde."]}},
    ]
    llm.set_script(scripts[0])
    events: list[SwarmEvent] = []

    def observer(event: SwarmEvent) -> None:
        events.append(event)
        calls = sum(isinstance(e, LLMCall) for e in events)
        if isinstance(event, LLMCall) and calls < len(scripts):
            llm.set_script(scripts[calls])

    catalog = FakeCatalog()
    swarm = SwarmOrchestrator(catalog, LLMBrain(chain(llm, "m"), {"temperature": 0}), observer=observer)
    reply = swarm.reply("n1", "Quero comprar um apartamento em Curitiba até 650 mil")
    assert (reply.text, reply.agent) == ("O apartamento #11 fica no Água Verde.", "imovel")
    assert reply.handoffs == [("triagem", "busca"), ("busca", "imovel")]
    assert reply.tool_calls == ["transfer_to_busca", "search_properties", "transfer_to_imovel"]
    assert catalog.searches == [
        {
            "city": "Curitiba",
            "transaction_type": "sale",
            "price_max": 650000,
            "sort": "price_asc",
            "page_size": 5,
        }
    ]
    llm_calls = [e for e in reply.events if isinstance(e, LLMCall)]
    assert len(llm_calls) == 4
    assert all(c.provider == "p1" and c.model == "m" and not c.fallback_used for c in llm_calls)
    assert all(c.prompt_tokens > 0 and c.completion_tokens > 0 for c in llm_calls)
    requests = llm.requests()
    assert [r["messages"][0]["role"] for r in requests] == ["system"] * 4
    assert "You greet the customer" in requests[0]["messages"][0]["content"]
    assert {t["function"]["name"] for t in requests[1]["tools"]} >= {
        "search_properties",
        "transfer_to_imovel",
    }
    assert requests[0]["params"]["temperature"] == 0
    tool_message = requests[2]["messages"][-1]
    assert tool_message["role"] == "tool" and json.loads(tool_message["content"])["total"] == 2


def test_prompted_json_tool_calls(llm: LocalLLMServer) -> None:
    llm.set_script(
        {
            "canned": {
                "g": [
                    '{"tool": "transfer_to_busca", "arguments": {}}',
                    '```json\n{"tool": "search_properties", '
                    '"arguments": {"city": "Curitiba", "bedrooms_min": 3}}\n```',
                    "Encontrei 2 imóveis em Curitiba.",
                ]
            }
        }
    )
    catalog = FakeCatalog()
    reply = SwarmOrchestrator(catalog, LLMBrain(chain(llm, "g", native=False))).reply("j1", "Oi, Curitiba")
    assert (reply.text, reply.agent) == ("Encontrei 2 imóveis em Curitiba.", "busca")
    assert reply.tool_calls == ["transfer_to_busca", "search_properties"]
    assert catalog.searches[0]["bedrooms_min"] == 3
    requests = llm.requests()
    assert all(not r["tools"] for r in requests)  # tools travel in the prompt
    assert "You can call these tools" in requests[0]["messages"][0]["content"]
    # Tool calls and results are replayed as text for a model without native tool calling.
    last = requests[2]["messages"]
    assert all(m["role"] in ("system", "user", "assistant") for m in last)
    assert any(m["role"] == "user" and m["content"].startswith("[tool result]") for m in last)


def test_invalid_tool_names_are_fed_back_to_the_model(llm: LocalLLMServer) -> None:
    llm.set_script(
        {"canned": {"g": ['{"tool": "fly_to_the_moon", "arguments": {}}', "Desculpe! Em qual cidade?"]}}
    )
    reply = SwarmOrchestrator(FakeCatalog(), LLMBrain(chain(llm, "g", native=False))).reply("bad", "oi")
    assert reply.text == "Desculpe! Em qual cidade?"
    rejected = [e for e in reply.events if isinstance(e, ToolResult)]
    assert len(rejected) == 1 and not rejected[0].ok and "fly_to_the_moon" in rejected[0].summary
    second = llm.requests()[1]["messages"][-1]
    assert second["role"] == "user" and second["content"].startswith("[tool error]")


def test_native_unknown_tool_gets_an_error_result(llm: LocalLLMServer) -> None:
    llm.set_script(tool_script("book_visit", {"property_id": 11}))
    events: list[SwarmEvent] = []

    def observer(event: SwarmEvent) -> None:
        events.append(event)
        if isinstance(event, LLMCall):
            llm.set_script({"models": {"m": "canned"}, "canned": {"m": ["Olá!"]}})

    reply = SwarmOrchestrator(FakeCatalog(), LLMBrain(chain(llm, "m")), observer=observer).reply("u", "oi")
    assert reply.text == "Olá!"
    results = [e for e in reply.events if isinstance(e, ToolResult)]
    assert not results[0].ok and "unknown tool 'book_visit'" in results[0].summary
    assert json.loads(llm.requests()[1]["messages"][-1]["content"])["error"].startswith("unknown tool")


def test_fallback_to_the_second_provider(llm: LocalLLMServer) -> None:
    llm.set_script(
        {
            "canned": {"a": ["resposta do primeiro"], "b": ["Olá! Quer comprar ou alugar?"]},
            "faults": [{"kind": "server_error", "model": "a"}],
        }
    )
    reply = SwarmOrchestrator(FakeCatalog(), LLMBrain(chain(llm, "a", "b"))).reply("f1", "oi")
    assert reply.text == "Olá! Quer comprar ou alugar?"
    (call,) = [e for e in reply.events if isinstance(e, LLMCall)]
    assert (call.provider, call.model, call.fallback_used) == ("p2", "b", True)
    assert [r["status"] for r in llm.requests()] == [500, 200]


def test_every_provider_down_gives_a_polite_answer(llm: LocalLLMServer) -> None:
    llm.set_script({"canned": {"a": ["x"]}, "faults": [{"kind": "unavailable", "times": 2}]})
    reply = SwarmOrchestrator(FakeCatalog(), LLMBrain(chain(llm, "a"))).reply("down", "oi")
    assert "indisponível" in reply.text and reply.agent == "triagem"
