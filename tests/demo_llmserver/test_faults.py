"""Injected faults, as seen by raw HTTP and by the real OpenAI SDK."""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest

from convoload_demo.llmserver import LocalLLMServer
from tests.demo_llmserver.helpers import API_KEY, chat, tokens

pytestmark = pytest.mark.e2e

USER = {"role": "user", "content": "hello"}
TOOLS = [
    {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}
]


def ok(http: httpx.Client, model: str = "m", **extra: object) -> httpx.Response:
    return chat(http, model=model, messages=[USER], **extra)


def test_rate_limit_sends_retry_after(llm: LocalLLMServer, http: httpx.Client, client: openai.OpenAI) -> None:
    llm.set_script(
        {"faults": [{"kind": "rate_limit", "retry_after": 7}, {"kind": "rate_limit", "retry_after": 0.25}]}
    )
    first = ok(http)
    assert first.status_code == 429
    assert first.headers["retry-after"] == "7"
    error = first.json()["error"]
    assert error["type"] == "rate_limit_exceeded" and set(error) == {"message", "type", "param", "code"}
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="m", messages=[USER])
    assert caught.value.status_code == 429
    assert caught.value.response.headers["retry-after"] == "0.25"
    assert ok(http).status_code == 200, "each fault is used once by default"
    assert [e["fault"] for e in llm.requests()] == ["rate_limit", "rate_limit", None]


def test_sdk_retries_honour_retry_after_and_then_succeed(llm: LocalLLMServer) -> None:
    llm.set_script({"faults": [{"kind": "rate_limit", "times": 2, "retry_after": 0.05}]})
    with httpx.Client(trust_env=False) as transport:
        patient = openai.OpenAI(base_url=llm.base_url, api_key=API_KEY, max_retries=2, http_client=transport)
        completion = patient.chat.completions.create(model="m", messages=[USER])
    assert completion.choices[0].message.content == "echo: hello"
    assert [e["status"] for e in llm.requests()] == [429, 429, 200]


@pytest.mark.parametrize(("kind", "status"), [("server_error", 500), ("unavailable", 503)])
def test_server_errors(
    llm: LocalLLMServer, http: httpx.Client, client: openai.OpenAI, kind: str, status: int
) -> None:
    llm.set_script({"faults": [{"kind": kind, "times": 2}]})
    raw = ok(http)
    assert raw.status_code == status
    assert raw.json()["error"]["type"] == "server_error"
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="m", messages=[USER])
    assert caught.value.status_code == status
    assert ok(http).status_code == 200


def test_timeout_outlasts_a_short_client_timeout(llm: LocalLLMServer, client: openai.OpenAI) -> None:
    llm.set_script({"faults": [{"kind": "timeout", "seconds": 2}]})
    with pytest.raises(openai.APITimeoutError):
        client.with_options(timeout=0.3).chat.completions.create(model="m", messages=[USER])
    assert llm.requests()[0]["fault"] == "timeout"


def test_timeout_answers_normally_to_a_patient_client(llm: LocalLLMServer, client: openai.OpenAI) -> None:
    llm.set_script({"faults": [{"kind": "timeout", "seconds": 0.4}]})
    started = time.monotonic()
    completion = client.chat.completions.create(model="m", messages=[USER], timeout=10)
    assert time.monotonic() - started >= 0.4
    assert completion.choices[0].message.content == "echo: hello"


def test_malformed_body(llm: LocalLLMServer, http: httpx.Client, client: openai.OpenAI) -> None:
    llm.set_script({"faults": [{"kind": "malformed", "times": 2}]})
    raw = ok(http)
    assert raw.status_code == 200
    with pytest.raises(ValueError):
        json.loads(raw.content)
    with pytest.raises(ValueError):  # the SDK cannot decode it either
        client.chat.completions.create(model="m", messages=[USER])
    assert ok(http).json()["choices"][0]["message"]["content"] == "echo: hello"


def test_bad_shape_has_no_choices(llm: LocalLLMServer, http: httpx.Client, client: openai.OpenAI) -> None:
    llm.set_script({"faults": [{"kind": "bad_shape", "times": 2}]})
    raw = ok(http)
    assert raw.status_code == 200
    body = raw.json()
    assert isinstance(body, dict) and body["object"] == "chat.completion" and "choices" not in body
    completion = client.chat.completions.create(model="m", messages=[USER])
    assert not completion.choices  # the SDK does not validate: the caller must notice


def test_empty_reply(llm: LocalLLMServer, http: httpx.Client) -> None:
    llm.set_script({"faults": [{"kind": "empty"}], "reasoning_tokens": 3})
    body = ok(http).json()
    assert body["choices"][0]["message"]["content"] == ""
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["completion_tokens"] == 3
    assert ok(http).json()["usage"]["completion_tokens"] == tokens("echo: hello") + 3


def test_tools_unsupported_openrouter_style(
    llm: LocalLLMServer, http: httpx.Client, client: openai.OpenAI
) -> None:
    llm.set_script({"faults": [{"kind": "tools_unsupported", "times": 2}]})
    assert ok(http).status_code == 200, "plain chat is served; the fault waits for a request with tools"
    raw = ok(http, tools=TOOLS)
    assert raw.status_code == 404
    error = raw.json()["error"]
    assert set(error) == {"message", "code"} and error["code"] == 404
    assert error["message"].startswith("No endpoints found that support tool use.")
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="m", messages=[USER], tools=TOOLS)
    assert "No endpoints found that support tool use" in caught.value.message
    assert ok(http, tools=TOOLS).status_code == 200


def test_tools_unsupported_ollama_style(
    llm: LocalLLMServer, http: httpx.Client, client: openai.OpenAI
) -> None:
    llm.set_script({"faults": [{"kind": "tools_unsupported", "style": "ollama", "times": 2}]})
    raw = ok(http, tools=TOOLS)
    assert raw.status_code == 400
    assert raw.json() == {
        "error": {
            "message": "registry.ollama.ai/library/gemma3n:e2b does not support tools",
            "type": "api_error",
            "param": None,
            "code": None,
        }
    }
    with pytest.raises(openai.BadRequestError, match="does not support tools"):
        client.chat.completions.create(model="m", messages=[USER], tools=TOOLS)


def test_faults_are_consumed_in_order_per_model(llm: LocalLLMServer, http: httpx.Client) -> None:
    llm.set_script(
        {
            "faults": [
                {"kind": "server_error", "model": "primary", "times": 2},
                {"kind": "unavailable"},
                {"kind": "rate_limit", "model": "primary", "message": "slow down, primary"},
            ]
        }
    )
    assert ok(http, "fallback").status_code == 503  # the model filter skips the first fault
    assert ok(http, "fallback").status_code == 200
    assert ok(http, "primary").status_code == 500
    assert ok(http, "primary").status_code == 500
    limited = ok(http, "primary")
    assert limited.status_code == 429 and limited.json()["error"]["message"] == "slow down, primary"
    assert ok(http, "primary").status_code == 200
    assert [(e["model"], e["status"]) for e in llm.requests()] == [
        ("fallback", 503),
        ("fallback", 200),
        ("primary", 500),
        ("primary", 500),
        ("primary", 429),
        ("primary", 200),
    ]


def test_reset_drops_pending_faults(llm: LocalLLMServer, http: httpx.Client) -> None:
    llm.set_script({"faults": [{"kind": "server_error", "times": 5}]})
    assert ok(http).status_code == 500
    assert http.get("/admin/script").json()["pending_faults"][0]["times"] == 4
    llm.reset()
    assert http.get("/admin/script").json()["pending_faults"] == []
    assert ok(http).status_code == 200


def test_script_latency_overrides_and_applies_to_faults(llm: LocalLLMServer, http: httpx.Client) -> None:
    llm.set_script({"latency_s": 0.3, "faults": [{"kind": "server_error"}]})
    started = time.monotonic()
    assert ok(http).status_code == 500
    assert time.monotonic() - started >= 0.3
