"""The chat API as a real subprocess (AssistantServer) in front of the real catalog, and the python target."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import httpx
import pytest

from convoload_demo.realestate.assistant import AssistantServer, AssistantSettings, inprocess
from convoload_demo.realestate.catalog.launcher import CatalogServer
from tests.helpers import free_port


@pytest.fixture(scope="module")
def assistant(catalog_server: CatalogServer) -> Iterator[AssistantServer]:
    with AssistantServer(AssistantSettings(catalog_url=catalog_server.url)) as server:
        yield server


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=30) as client:
        yield client


@pytest.mark.e2e
def test_chat_turns_with_handoffs_and_events(assistant: AssistantServer, http: httpx.Client) -> None:
    first = http.post(assistant.chat_url, json={"session_id": "h1", "message": "Oi"})
    assert first.status_code == 200
    body = first.json()
    assert set(body) == {"reply", "agent", "handoffs", "tool_calls", "events"}
    assert "comprar ou alugar" in body["reply"] and body["agent"] == "triagem"
    assert body["handoffs"] == [] and body["tool_calls"] == []
    assert [e["type"] for e in body["events"]] == ["AgentStarted", "MessageOutput"]
    assert body["events"][1]["text"] == body["reply"] and body["events"][0]["session_id"] == "h1"
    second = http.post(
        assistant.chat_url,
        json={
            "session_id": "h1",
            "message": "Quero alugar um apartamento em Campinas até 5 mil por mês, 2 quartos",
        },
    ).json()
    assert second["handoffs"] == [{"from": "triagem", "to": "busca"}]
    assert second["tool_calls"] == ["transfer_to_busca", "search_properties"]
    assert second["agent"] == "busca" and "1) " in second["reply"]
    called = [e for e in second["events"] if e["type"] == "ToolCalled" and e["tool"] == "search_properties"]
    assert called[0]["arguments"]["city"] == "Campinas" and called[0]["arguments"]["price_max"] == 5000
    other = http.post(assistant.chat_url, json={"session_id": "h2", "message": "Hello"}).json()
    assert "buy or rent" in other["reply"]


@pytest.mark.e2e
@pytest.mark.parametrize(
    "body",
    [
        {},
        {"session_id": "x"},
        {"message": "oi"},
        {"session_id": "", "message": "oi"},
        {"session_id": "x", "message": "   "},
        {"session_id": "x", "message": 5},
    ],
)
def test_bad_bodies_are_422(assistant: AssistantServer, http: httpx.Client, body: dict) -> None:
    assert http.post(assistant.chat_url, json=body).status_code == 422


@pytest.mark.e2e
def test_health_checks_the_catalog(assistant: AssistantServer, http: httpx.Client) -> None:
    health = http.get(assistant.health_url).json()
    assert {k: health[k] for k in ("status", "catalog")} == {"status": "ok", "catalog": "ok"}
    assert health["turns"]["limit"] is None  # no max_concurrent_turns: nothing queues


@pytest.mark.e2e
def test_health_is_degraded_without_a_catalog(http: httpx.Client) -> None:
    settings = AssistantSettings(catalog_url=f"http://127.0.0.1:{free_port()}", catalog_timeout_s=2)
    with AssistantServer(settings) as server:
        health = http.get(server.health_url).json()
    assert {k: health[k] for k in ("status", "catalog")} == {"status": "degraded", "catalog": "down"}


@pytest.mark.e2e
def test_llm_brain_without_providers_refuses_to_start(catalog_server: CatalogServer) -> None:
    with pytest.raises(RuntimeError, match="needs at least one --llm"):
        AssistantServer(AssistantSettings(catalog_url=catalog_server.url, brain="llm")).start()


@pytest.mark.e2e
def test_python_target(catalog_server: CatalogServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(inprocess.CATALOG_URL_ENV, catalog_server.url)
    monkeypatch.setattr(inprocess, "_swarm", None)
    session = SimpleNamespace(session_id="py-1")
    first = inprocess.reply("Olá", session, 0)
    assert first["agent"] == "triagem" and "comprar ou alugar" in first["text"]
    second = inprocess.reply("quero comprar uma casa em Campinas", session, 1)
    assert second == {"text": "Qual o seu orçamento máximo?", "agent": "busca"}


def test_python_target_needs_the_catalog_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(inprocess.CATALOG_URL_ENV, raising=False)
    monkeypatch.setattr(inprocess, "_swarm", None)
    with pytest.raises(RuntimeError, match="CONVOLOAD_CATALOG_URL"):
        inprocess.reply("oi", SimpleNamespace(session_id="s"), 0)
