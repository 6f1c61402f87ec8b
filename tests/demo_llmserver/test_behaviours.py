"""Per-model behaviours: echo, canned cycling, native and as-text tool calls."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from convoload_demo.llmserver import LocalLLMServer
from tests.demo_llmserver.helpers import chat, tokens

pytestmark = pytest.mark.e2e

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    },
    {
        "type": "function",
        "function": {
            "name": "book_ticket",
            "parameters": {"type": "object", "properties": {"date": {"type": "string"}}},
        },
    },
]
ASK = {"role": "user", "content": "book me a ticket for 11/10"}


def text_of(client: openai.OpenAI, model: str, content: str = "hi") -> str:
    completion = client.chat.completions.create(model=model, messages=[{"role": "user", "content": content}])
    return completion.choices[0].message.content or ""


def test_echo_repeats_the_last_user_message(client: openai.OpenAI) -> None:
    messages = [
        {"role": "system", "content": "be nice"},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "second one"},
    ]
    completion = client.chat.completions.create(model="echo", messages=messages)
    assert completion.choices[0].message.content == "echo: second one"
    assert text_of(client, "any-unknown-model", "olá") == "echo: olá"


def test_canned_replies_cycle_per_model(llm: LocalLLMServer, client: openai.OpenAI) -> None:
    llm.set_script({"models": {"a": "canned"}, "canned": {"a": ["one", "two", "three"], "b": ["bee"]}})
    assert [text_of(client, "a") for _ in range(7)] == ["one", "two", "three", "one", "two", "three", "one"]
    assert [text_of(client, "b") for _ in range(2)] == ["bee", "bee"]  # listed in canned only: still canned
    llm.set_script({"models": {"a": "canned"}, "canned": {"a": ["one", "two", "three"]}})
    assert text_of(client, "a") == "one", "a new script restarts the cycle"
    text_of(client, "a")
    llm.reset()
    assert text_of(client, "a") == "one", "so does a reset"


def test_native_tool_call_is_parsed_by_the_sdk(
    llm: LocalLLMServer, client: openai.OpenAI, http: httpx.Client
) -> None:
    arguments = {"date": "2026-10-11", "quantities": {"adulto": 2}, "note": "família"}
    llm.set_script(
        {"models": {"agent": "tool"}, "tool_call": {"name": "book_ticket", "arguments": arguments}}
    )
    completion = client.chat.completions.create(model="agent", messages=[ASK], tools=TOOLS)
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    [call] = choice.message.tool_calls or []
    assert call.type == "function" and call.id.startswith("call_")
    assert call.function.name == "book_ticket"
    assert json.loads(call.function.arguments) == arguments
    encoded = json.dumps(arguments, ensure_ascii=False)
    assert completion.usage is not None
    assert completion.usage.completion_tokens == tokens("book_ticket" + encoded)

    # On the wire the arguments are a JSON-encoded string, as OpenAI sends them; ids are unique.
    raw = chat(http, model="agent", messages=[ASK], tools=TOOLS).json()
    raw_call = raw["choices"][0]["message"]["tool_calls"][0]
    assert isinstance(raw_call["function"]["arguments"], str) and raw_call["id"] != call.id

    # The conversation continues with the tool result, which the server accepts.
    follow_up = [
        ASK,
        {"role": "assistant", "content": None, "tool_calls": [raw_call]},
        {"role": "tool", "tool_call_id": raw_call["id"], "content": '{"status": "booked"}'},
    ]
    assert chat(http, model="agent", messages=follow_up, tools=TOOLS).status_code == 200


def test_tool_defaults_to_the_first_tool_and_follows_tool_choice(
    llm: LocalLLMServer, http: httpx.Client
) -> None:
    llm.set_script({"models": {"agent": "tool"}, "tool_call": {"arguments": {"city": "Curitiba"}}})

    def called(**extra: object) -> dict:
        return chat(http, model="agent", messages=[ASK], tools=TOOLS, **extra).json()["choices"][0]

    assert called()["message"]["tool_calls"][0]["function"]["name"] == "get_weather"
    forced = {"type": "function", "function": {"name": "book_ticket"}}
    assert called(tool_choice=forced)["message"]["tool_calls"][0]["function"]["name"] == "book_ticket"
    declined = called(tool_choice="none")
    assert declined["finish_reason"] == "stop" and "tool_calls" not in declined["message"]
    assert declined["message"]["content"] == "echo: " + ASK["content"]


def test_tool_model_without_tools_answers_in_text(llm: LocalLLMServer, client: openai.OpenAI) -> None:
    llm.set_script({"models": {"agent": "tool", "plain": "tool"}, "canned": {"agent": ["no tools today"]}})
    assert text_of(client, "agent") == "no tools today"
    assert text_of(client, "plain", "x") == "echo: x"


def test_tool_call_as_text(llm: LocalLLMServer, client: openai.OpenAI) -> None:
    arguments = {"city": "Foz do Iguaçu"}
    llm.set_script(
        {
            "models": {"small": "tool"},
            "tool_call": {"name": "get_weather", "arguments": arguments, "as_text": True},
        }
    )
    completion = client.chat.completions.create(model="small", messages=[ASK], tools=TOOLS)
    choice = completion.choices[0]
    assert choice.finish_reason == "stop" and not choice.message.tool_calls
    assert json.loads(choice.message.content or "") == {"tool": "get_weather", "arguments": arguments}
