"""The provider chain against the local OpenAI-compatible server, over real HTTP with the real SDK."""

import pytest

from convoload.llm.chain import Fallback, ProviderChain, RetryPolicy
from convoload.llm.client import ProviderClient
from convoload.llm.cost import shipped_prices
from convoload.llm.providers import ProviderSpec
from convoload.llm.tools import Tool
from convoload.llm.types import FailureKind, LLMUnavailable
from convoload_demo.llmserver.launcher import LocalLLMServer

pytestmark = pytest.mark.e2e

KEY = "sk-local-test-0123456789"
MESSAGES = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "oi"}]


@pytest.fixture(scope="module")
def server():
    with LocalLLMServer({"api_key": KEY}) as llm:
        yield llm


@pytest.fixture(autouse=True)
def fresh(server, monkeypatch):
    monkeypatch.setenv("CONVOLOAD_TEST_LLM_KEY", KEY)
    server.reset()
    server.set_script({})


def spec(server, name, model, **kwargs):
    return ProviderSpec(
        name=name, base_url=server.base_url, model=model, api_key_env="CONVOLOAD_TEST_LLM_KEY", **kwargs
    )


def chain(server, *specs, retries=2, sleeps=None, **kwargs):
    clients = [ProviderClient(s, shipped_prices()) for s in specs]
    recorder = sleeps if sleeps is not None else []
    return ProviderChain(
        clients,
        policy=RetryPolicy(retries=retries, backoff_base_s=0.01, max_retry_after_s=5),
        sleep=recorder.append,
        **kwargs,
    )


def models_called(server):
    return [r["model"] for r in server.requests()]


def test_answer_usage_and_cost_from_the_wire(server):
    server.set_script({"models": {"gemini-2.5-flash": "echo"}})
    result = chain(server, spec(server, "primary", "gemini-2.5-flash")).complete(MESSAGES)
    response = result.response
    assert response.text == "echo: oi" and result.fallbacks == [] and response.attempts == 1
    assert response.provider == "primary" and response.model == "gemini-2.5-flash"
    # the server's documented estimate: ceil(chars/4) + 4 per message; reply ceil(len/4)
    assert response.usage.prompt == (4 + 4) + (1 + 4) and response.usage.completion == 2
    assert (
        response.cost_usd == pytest.approx((13 * 0.30 + 2 * 2.50) / 1e6) and response.cost_source == "table"
    )
    second = chain(server, spec(server, "primary", "gemini-2.5-flash")).complete(MESSAGES).response
    assert second.usage.cached > 0  # the repeated prefix is served from the provider's prompt cache


def test_a_provider_price_wins_over_the_table(server):
    server.set_script({"models": {"gemini-2.5-flash": "echo"}})
    priced = spec(server, "mine", "gemini-2.5-flash", price=(10.0, 20.0, None))
    response = chain(server, priced).complete(MESSAGES).response
    assert response.cost_usd == pytest.approx((13 * 10.0 + 2 * 20.0) / 1e6)


def test_provider_reported_cost_is_preferred(server):
    server.set_script({"models": {"m": "echo"}, "cost_per_million": {"input": 1000.0, "output": 2000.0}})
    response = chain(server, spec(server, "openrouter-like", "m")).complete(MESSAGES).response
    assert response.cost_source == "provider"
    assert response.cost_usd == pytest.approx((13 * 1000 + 2 * 2000) / 1e6)


def test_fallback_order_and_events(server):
    server.set_script(
        {
            "faults": [{"kind": "server_error", "times": 3, "model": "first"}],
            "models": {"first": "echo", "second": "echo"},
        }
    )
    result = chain(server, spec(server, "a", "first"), spec(server, "b", "second")).complete(MESSAGES)
    assert result.response.provider == "b"
    assert result.fallbacks == [Fallback("a/first", "b/second", "server_error")]
    assert models_called(server) == ["first", "first", "first", "second"]  # 1 try + 2 retries, then next


def test_retry_after_is_honoured(server):
    server.set_script({"faults": [{"kind": "rate_limit", "retry_after": 2}], "models": {"m": "echo"}})
    sleeps = []
    result = chain(server, spec(server, "a", "m"), sleeps=sleeps).complete(MESSAGES)
    assert sleeps == [2.0] and result.response.attempts == 2 and result.fallbacks == []


def test_too_long_retry_after_moves_on_at_once(server):
    server.set_script(
        {
            "faults": [{"kind": "rate_limit", "retry_after": 600, "model": "m"}],
            "models": {"m": "echo", "n": "echo"},
        }
    )
    sleeps = []
    result = chain(server, spec(server, "a", "m"), spec(server, "b", "n"), sleeps=sleeps).complete(MESSAGES)
    assert sleeps == [] and result.fallbacks == [Fallback("a/m", "b/n", "rate_limited")]


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ({"kind": "malformed"}, FailureKind.MALFORMED),
        ({"kind": "bad_shape"}, FailureKind.MALFORMED),
        ({"kind": "empty"}, FailureKind.EMPTY),
        ({"kind": "unavailable"}, FailureKind.SERVER_ERROR),
        ({"kind": "timeout", "seconds": 5}, FailureKind.TIMEOUT),
    ],
)
def test_faults_are_classified_and_retried(server, fault, kind):
    server.set_script({"faults": [{**fault, "times": 2}], "models": {"m": "echo"}})
    with pytest.raises(LLMUnavailable) as info:
        chain(server, spec(server, "a", "m", timeout_s=0.5), retries=1).complete(MESSAGES)
    assert info.value.kind == kind and len(models_called(server)) == 2


@pytest.mark.parametrize("style", ["openrouter", "ollama"])
def test_tools_unsupported_falls_through_without_retrying(server, style):
    server.set_script(
        {
            "faults": [{"kind": "tools_unsupported", "style": style, "model": "gemma"}],
            "models": {"gemma": "tool", "big": "tool"},
            "tool_call": {"arguments": {"city": "Curitiba"}},
        }
    )
    tools = [Tool("search_properties", "Search.")]
    result = chain(server, spec(server, "a", "gemma"), spec(server, "b", "big")).complete(
        MESSAGES, tools=tools
    )
    assert result.fallbacks[0].reason == "tools_unsupported"
    assert models_called(server) == ["gemma", "big"]
    assert result.response.tool_calls[0].name == "search_properties"
    assert result.response.tool_calls[0].arguments == {"city": "Curitiba"}


def test_prompted_json_tools_for_models_without_native_tools(server):
    # What a model without native tools writes when the system prompt describes the tools:
    server.set_script(
        {
            "models": {"gemma3n:e2b": "canned"},
            "canned": {
                "gemma3n:e2b": ['```json\n{"tool": "book_visit", "arguments": {"day": "21/11"}}\n```']
            },
        }
    )
    tools = [Tool("book_visit", "Book a visit.")]
    response = (
        chain(server, spec(server, "ollama", "gemma3n:e2b", native_tools=False))
        .complete(MESSAGES, tools=tools)
        .response
    )
    assert response.tool_calls[0].name == "book_visit" and response.tool_calls[0].arguments == {
        "day": "21/11"
    }
    sent = server.requests()[-1]
    assert sent["tools"] is None and '"tool": "<tool name>"' in sent["messages"][0]["content"]


def test_auth_failures_and_missing_keys(server, monkeypatch):
    monkeypatch.setenv("CONVOLOAD_WRONG_KEY", "sk-wrong-key-value")
    server.set_script({"models": {"m": "echo"}})
    wrong = ProviderSpec(name="a", base_url=server.base_url, model="m", api_key_env="CONVOLOAD_WRONG_KEY")
    missing = ProviderSpec(name="b", base_url=server.base_url, model="m", api_key_env="CONVOLOAD_UNSET_KEY")
    with pytest.raises(LLMUnavailable) as info:
        chain(server, wrong, missing).complete(MESSAGES)
    kinds = [e.kind for e in info.value.errors]
    assert kinds == [FailureKind.AUTH, FailureKind.AUTH]
    assert len(server.requests()) == 1  # the missing key is caught before any request
    assert "CONVOLOAD_UNSET_KEY is not set" in str(info.value)
    assert "sk-wrong-key-value" not in str(info.value)


@pytest.mark.slow
def test_circuit_breaker_skips_a_failing_provider_then_probes(server):
    server.set_script(
        {"faults": [{"kind": "server_error", "times": 2, "model": "m"}], "models": {"m": "echo", "n": "echo"}}
    )

    class Clock:
        now = 0.0

        def __call__(self):
            return self.now

    clock = Clock()
    c = chain(
        server,
        spec(server, "a", "m"),
        spec(server, "b", "n"),
        retries=0,
        breaker_failures=2,
        breaker_cooldown_s=30,
        clock=clock,
    )
    for _ in range(2):
        c.complete(MESSAGES)  # m fails twice: the breaker opens
    third = c.complete(MESSAGES)
    assert third.errors[0].kind == FailureKind.CIRCUIT_OPEN
    assert models_called(server) == ["m", "n", "m", "n", "n"]  # the third call never reached m
    clock.now = 31
    probe = c.complete(MESSAGES)  # half-open: one probe goes to m, which has recovered
    assert probe.response.model == "m" and c.breakers["a/m"].state == "closed"
