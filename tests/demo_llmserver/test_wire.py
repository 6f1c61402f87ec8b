"""Wire format, usage accounting, auth, validation and admin endpoints of the local LLM provider."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import openai
import pytest

from convoload_demo.llmserver import LocalLLMServer
from tests.demo_llmserver.helpers import API_KEY, chat, prompt_estimate, tokens

pytestmark = pytest.mark.e2e

SYSTEM = {"role": "system", "content": "You are a terse assistant for tests."}
HELLO = {"role": "user", "content": "Hello there, how are you?"}


def test_wire_format_and_usage(client: openai.OpenAI, http: httpx.Client) -> None:
    messages = [SYSTEM, HELLO]
    before = int(time.time())
    raw = chat(http, model="gpt-test", messages=messages)
    assert raw.status_code == 200
    assert raw.headers["content-type"] == "application/json"
    body = raw.json()
    assert body["id"].startswith("chatcmpl-") and len(body["id"]) > len("chatcmpl-")
    assert body["object"] == "chat.completion"
    assert isinstance(body["created"], int) and before - 1 <= body["created"] <= time.time() + 1
    assert body["model"] == "gpt-test"
    [choice] = body["choices"]
    reply = "echo: Hello there, how are you?"
    assert choice["index"] == 0 and choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant" and choice["message"]["content"] == reply
    assert "tool_calls" not in choice["message"]
    usage = body["usage"]
    assert usage["prompt_tokens"] == prompt_estimate(messages) == (9 + 4) + (7 + 4)
    assert usage["completion_tokens"] == tokens(reply) == 8
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["prompt_tokens_details"] == {"cached_tokens": 0}
    assert usage["completion_tokens_details"] == {"reasoning_tokens": 0}
    assert "cost" not in usage

    completion = client.chat.completions.create(model="gpt-test", messages=[SYSTEM, HELLO])
    assert completion.id.startswith("chatcmpl-") and completion.id != body["id"]
    assert completion.choices[0].message.content == reply
    assert completion.usage is not None and completion.usage.prompt_tokens == prompt_estimate(messages)
    assert completion.usage.completion_tokens == 8


def test_content_parts_count_their_text(http: httpx.Client) -> None:
    parts = [{"type": "text", "text": "first part "}, {"type": "text", "text": "and second"}]
    body = chat(http, model="echo", messages=[{"role": "user", "content": parts}]).json()
    assert body["choices"][0]["message"]["content"] == "echo: first part and second"
    assert body["usage"]["prompt_tokens"] == tokens("first part and second") + 4


def test_cached_tokens_grow_with_a_repeated_prefix(http: httpx.Client) -> None:
    first = [SYSTEM, HELLO]
    assert (
        chat(http, model="m1", messages=first).json()["usage"]["prompt_tokens_details"]["cached_tokens"] == 0
    )
    follow_up = [*first, {"role": "assistant", "content": "fine"}, {"role": "user", "content": "and now?"}]
    usage = chat(http, model="m1", messages=follow_up).json()["usage"]
    assert usage["prompt_tokens"] == prompt_estimate(follow_up)
    assert usage["prompt_tokens_details"]["cached_tokens"] == prompt_estimate(first)

    # Same system message, different question: only the system message is a known prefix.
    other = [SYSTEM, {"role": "user", "content": "something else entirely"}]
    cached = chat(http, model="m1", messages=other).json()["usage"]["prompt_tokens_details"]["cached_tokens"]
    assert cached == prompt_estimate([SYSTEM])
    # The cache is per model, and a changed first message shares nothing.
    assert (
        chat(http, model="m2", messages=follow_up).json()["usage"]["prompt_tokens_details"]["cached_tokens"]
        == 0
    )
    changed = [{"role": "system", "content": "Another system prompt"}, HELLO]
    assert (
        chat(http, model="m1", messages=changed).json()["usage"]["prompt_tokens_details"]["cached_tokens"]
        == 0
    )


def test_reset_forgets_cached_prefixes(llm: LocalLLMServer, http: httpx.Client) -> None:
    chat(http, model="m", messages=[SYSTEM, HELLO])
    assert chat(http, model="m", messages=[SYSTEM, HELLO]).json()["usage"]["prompt_tokens_details"][
        "cached_tokens"
    ] == prompt_estimate([SYSTEM, HELLO])
    llm.reset()
    assert (
        chat(http, model="m", messages=[SYSTEM, HELLO]).json()["usage"]["prompt_tokens_details"][
            "cached_tokens"
        ]
        == 0
    )


def test_openrouter_style_cost(llm: LocalLLMServer, http: httpx.Client, client: openai.OpenAI) -> None:
    llm.set_script({"cost_per_million": {"input": 2.0, "output": 8.0, "cached_input": 0.5}})
    messages = [SYSTEM, HELLO]
    first = chat(http, model="priced", messages=messages).json()["usage"]
    prompt, completion = prompt_estimate(messages), tokens("echo: Hello there, how are you?")
    assert first["cost"] == pytest.approx((prompt * 2.0 + completion * 8.0) / 1e6)
    # Repeated: the cached part is billed at the cached price.
    again = client.chat.completions.create(model="priced", messages=messages)
    assert again.usage is not None and again.usage.prompt_tokens_details is not None
    assert again.usage.prompt_tokens_details.cached_tokens == prompt
    assert again.usage.model_extra is not None
    assert again.usage.model_extra["cost"] == pytest.approx((prompt * 0.5 + completion * 8.0) / 1e6)


def test_reasoning_tokens_are_added_to_completion(llm: LocalLLMServer, http: httpx.Client) -> None:
    llm.set_script({"reasoning_tokens": {"thinker": 37}})
    usage = chat(http, model="thinker", messages=[HELLO]).json()["usage"]
    visible = tokens("echo: " + HELLO["content"])
    assert usage["completion_tokens_details"] == {"reasoning_tokens": 37}
    assert usage["completion_tokens"] == visible + 37
    assert usage["total_tokens"] == prompt_estimate([HELLO]) + visible + 37
    plain = chat(http, model="plain", messages=[HELLO]).json()["usage"]
    assert plain["completion_tokens_details"] == {"reasoning_tokens": 0}
    llm.set_script({"reasoning_tokens": 5})
    assert chat(http, model="plain", messages=[HELLO]).json()["usage"]["completion_tokens"] == visible + 5


def test_max_tokens_cuts_the_reply(llm: LocalLLMServer, http: httpx.Client) -> None:
    long_reply = "abcdefghij" * 10
    llm.set_script({"models": {"long": "canned"}, "canned": {"long": [long_reply]}, "reasoning_tokens": 2})
    body = chat(http, model="long", messages=[HELLO], max_tokens=7).json()
    choice = body["choices"][0]
    assert choice["finish_reason"] == "length"
    assert choice["message"]["content"] == long_reply[: (7 - 2) * 4]
    assert body["usage"]["completion_tokens"] == 7
    roomy = chat(http, model="long", messages=[HELLO], max_completion_tokens=500).json()["choices"][0]
    assert roomy["finish_reason"] == "stop" and roomy["message"]["content"] == long_reply


def test_api_key_is_required(llm: LocalLLMServer, http: httpx.Client) -> None:
    body = {"model": "m", "messages": [HELLO]}
    with httpx.Client(base_url=llm.url, trust_env=False, timeout=10) as anonymous:
        missing = anonymous.post("/v1/chat/completions", json=body)
        wrong = anonymous.post("/v1/chat/completions", json=body, headers={"Authorization": "Bearer nope"})
        basic = anonymous.post(
            "/v1/chat/completions", json=body, headers={"Authorization": f"Basic {API_KEY}"}
        )
        models = anonymous.get("/v1/models")
    assert missing.status_code == wrong.status_code == basic.status_code == models.status_code == 401
    error = missing.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error" and "didn't provide an API key" in error["message"]
    assert wrong.json()["error"]["code"] == "invalid_api_key"
    assert chat(http, **body).status_code == 200

    log = llm.requests()
    assert [entry["authorization"] for entry in log] == [False, True, True, True]
    assert [entry["status"] for entry in log] == [401, 401, 401, 200]
    assert API_KEY not in json.dumps(log) and "nope" not in json.dumps(log)


def test_sdk_with_a_wrong_key_gets_authentication_error(llm: LocalLLMServer) -> None:
    with httpx.Client(trust_env=False) as transport:
        bad = openai.OpenAI(base_url=llm.base_url, api_key="sk-wrong", max_retries=0, http_client=transport)
        with pytest.raises(openai.AuthenticationError) as caught:
            bad.chat.completions.create(model="m", messages=[HELLO])
    assert caught.value.status_code == 401


USER = {"role": "user", "content": "hi"}


@pytest.mark.parametrize(
    ("body", "param", "code", "text"),
    [
        ({"messages": [USER]}, "model", None, "you must provide a model parameter"),
        ({"model": "m"}, "messages", "missing_required_parameter", "Missing required parameter: 'messages'"),
        ({"model": "m", "messages": []}, "messages", "empty_array", "empty array"),
        ({"model": "m", "messages": "hi"}, "messages", "invalid_type", "expected an array"),
        ({"model": "m", "messages": ["hi"]}, "messages[0]", "invalid_type", "expected an object"),
        (
            {"model": "m", "messages": [{"content": "x"}]},
            "messages[0].role",
            "missing_required_parameter",
            "role",
        ),
        (
            {"model": "m", "messages": [{"role": "bot", "content": "x"}]},
            "messages[0].role",
            "invalid_value",
            "bot",
        ),
        (
            {"model": "m", "messages": [{"role": "user"}]},
            "messages[0].content",
            "missing_required_parameter",
            "",
        ),
        (
            {"model": "m", "messages": [{"role": "user", "content": 3}]},
            "messages[0].content",
            "invalid_type",
            "",
        ),
        (
            {"model": "m", "messages": [USER], "temperature": 3},
            "temperature",
            "decimal_above_max_value",
            "<= 2",
        ),
        (
            {"model": "m", "messages": [USER], "max_tokens": 0},
            "max_tokens",
            "integer_below_min_value",
            ">= 1",
        ),
        ({"model": "m", "messages": [USER], "seed": "x"}, "seed", "invalid_type", "integer"),
        (
            {"model": "m", "messages": [USER], "tools": [{"type": "web"}]},
            "tools[0].type",
            "invalid_value",
            "",
        ),
        ({"model": "m", "messages": [USER], "tool_choice": "auto"}, "tool_choice", None, "only allowed"),
        (
            {"model": "m", "messages": [USER], "response_format": {"type": "xml"}},
            "response_format.type",
            None,
            "",
        ),
        ({"model": "m", "messages": [USER], "n": 2}, "n", "unsupported_value", "n=1"),
        (
            {"model": "m", "messages": [{"role": "tool", "content": "42"}]},
            "messages[0].tool_call_id",
            "missing_required_parameter",
            "",
        ),
    ],
)
def test_invalid_bodies_get_openai_400s(
    http: httpx.Client, body: dict[str, Any], param: str, code: str | None, text: str
) -> None:
    response = http.post("/v1/chat/completions", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    if code is not None:
        assert error["code"] == code
    assert text in error["message"]


def test_body_that_is_not_json(http: httpx.Client, llm: LocalLLMServer) -> None:
    response = http.post(
        "/v1/chat/completions", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert "could not parse the JSON body" in response.json()["error"]["message"]
    assert llm.requests()[-1]["valid_json"] is False


def test_sdk_surfaces_validation_errors(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="m", messages=[])
    assert caught.value.status_code == 400 and caught.value.param == "messages"
    assert caught.value.code == "empty_array"


def test_streaming_is_rejected(client: openai.OpenAI, http: httpx.Client) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="m", messages=[USER], stream=True)
    assert "Streaming is not supported by the local provider" in caught.value.message
    error = chat(http, model="m", messages=[USER], stream=True).json()["error"]
    assert error["param"] == "stream" and error["type"] == "invalid_request_error"
    assert chat(http, model="m", messages=[USER], stream=False).status_code == 200


def test_openai_parameters_are_accepted_and_logged(llm: LocalLLMServer, http: httpx.Client) -> None:
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    params = {
        "temperature": 0.2,
        "top_p": 0.9,
        "max_tokens": 100,
        "max_completion_tokens": 100,
        "seed": 42,
        "response_format": {"type": "json_object"},
        "tool_choice": "none",
        "stream": False,
        "usage": {"include": True},  # OpenRouter extension: ignored, not rejected
    }
    response = chat(http, model="m", messages=[USER], tools=tools, **params)
    assert response.status_code == 200
    [entry] = llm.requests()
    assert entry["model"] == "m" and entry["messages"] == [USER] and entry["tools"] == tools
    assert entry["params"] == params
    assert entry["status"] == 200 and entry["fault"] is None and entry["index"] == 0


def test_requests_are_logged_in_order_and_reset(llm: LocalLLMServer, http: httpx.Client) -> None:
    for i in range(5):
        chat(http, model=f"m{i}", messages=[{"role": "user", "content": f"message {i}"}])
    log = llm.requests()
    assert [e["model"] for e in log] == [f"m{i}" for i in range(5)]
    assert [e["index"] for e in log] == list(range(5))
    assert http.get("/health").json() == {"status": "ok", "requests": 5}
    llm.reset()
    assert llm.requests() == []


def test_unknown_routes_are_openai_404s(http: httpx.Client) -> None:
    for method, path in [("GET", "/v1/nope"), ("POST", "/v1/completions"), ("GET", "/")]:
        response = http.request(method, path)
        assert response.status_code == 404
        assert response.json() == {
            "error": {
                "message": f"Invalid URL ({method} {path})",
                "type": "invalid_request_error",
                "param": None,
                "code": None,
            }
        }


def test_wrong_method_is_an_openai_405(http: httpx.Client) -> None:
    response = http.get("/v1/chat/completions")
    assert response.status_code == 405
    assert response.json()["error"]["message"] == "Method Not Allowed"


def test_models_lists_scripted_and_builtin_names(llm: LocalLLMServer, client: openai.OpenAI) -> None:
    llm.set_script({"models": {"tooly": "tool"}, "canned": {"cans": ["x"]}})
    ids = [model.id for model in client.models.list()]
    assert sorted(ids) == ["cans", "echo", "persona", "tooly"]


def test_invalid_script_is_rejected_and_the_old_one_kept(llm: LocalLLMServer, http: httpx.Client) -> None:
    llm.set_script({"models": {"c": "canned"}, "canned": {"c": ["kept"]}})
    for bad in ({"models": {"c": "canned"}}, {"faults": [{"kind": "meteor"}]}, {"latency": 1}):
        with pytest.raises(ValueError, match="Invalid script"):
            llm.set_script(bad)
    raw = http.put("/admin/script", json={"canned": {"c": []}})
    assert raw.status_code == 422 and raw.json()["error"]["code"] == "invalid_script"
    assert chat(http, model="c", messages=[USER]).json()["choices"][0]["message"]["content"] == "kept"


def test_concurrent_requests_each_wait_their_latency_and_share_state_fairly(
    llm: LocalLLMServer, client: openai.OpenAI
) -> None:
    replies = ["a", "b", "c", "d"]
    llm.set_script({"latency_s": 0.4, "models": {"c": "canned"}, "canned": {"c": replies}})

    def one(i: int) -> tuple[str, float]:
        started = time.monotonic()
        completion = client.chat.completions.create(model="c", messages=[{"role": "user", "content": str(i)}])
        return completion.choices[0].message.content or "", time.monotonic() - started

    count = 16
    with ThreadPoolExecutor(max_workers=count) as pool:
        results = list(pool.map(one, range(count)))
    assert all(took >= 0.4 for _, took in results)
    # The canned cursor is shared state: under concurrency every reply is still used equally often.
    assert sorted(text for text, _ in results) == sorted(replies * (count // len(replies)))
    assert len(llm.requests()) == count
