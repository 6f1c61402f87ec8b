"""Pricing paths against hand-computed values; tool calls in prompted-JSON mode; the circuit breaker."""

import pytest

from convoload.errors import ConfigError
from convoload.llm.chain import CircuitBreaker, RetryPolicy
from convoload.llm.cost import compute_cost, load_prices, shipped_prices
from convoload.llm.tools import Tool, native_tools, parse_prompted_tool_call, with_prompted_tools
from convoload.llm.types import FailureKind, ProviderError, TokenUsage
from tests.helpers import write

PRICES = shipped_prices()


def test_provider_reported_cost_wins():
    cost, source = compute_cost(
        TokenUsage(1000, 500), "gemini-2.5-flash", free=False, reported=0.00123, prices=PRICES
    )
    assert (cost, source) == (0.00123, "provider")


def test_table_price_gemini_flash():
    # 1000 input at $0.30/M + 500 output at $2.50/M = 0.0003 + 0.00125
    cost, source = compute_cost(
        TokenUsage(1000, 500), "gemini-2.5-flash", free=False, reported=None, prices=PRICES
    )
    assert source == "table" and cost == pytest.approx(0.00155, abs=1e-12)


def test_cached_tokens_at_the_cached_price():
    # gpt-4o-mini: 600 uncached x 0.15 + 400 cached x 0.075 + 200 output x 0.60 = 240 per million
    usage = TokenUsage(prompt=1000, completion=200, cached=400)
    cost, _ = compute_cost(usage, "gpt-4o-mini", free=False, reported=None, prices=PRICES)
    assert cost == pytest.approx(240e-6, abs=1e-12)
    # a provider prefix falls back to the bare model name
    assert compute_cost(usage, "openai/gpt-4o-mini", free=False, reported=None, prices=PRICES)[0] == cost


def test_cached_tokens_without_a_cached_price_cost_the_input_price():
    plain = compute_cost(TokenUsage(1000, 0), "gemini-2.5-flash", free=False, reported=None, prices=PRICES)[0]
    cached = compute_cost(
        TokenUsage(1000, 0, cached=900), "gemini-2.5-flash", free=False, reported=None, prices=PRICES
    )[0]
    assert cached == plain == pytest.approx(0.0003)


def test_free_and_unpriced_models():
    usage = TokenUsage(5000, 5000)
    assert compute_cost(usage, "google/gemma-3-27b-it:free", free=False, reported=None, prices=PRICES) == (
        0.0,
        "free",
    )
    assert compute_cost(usage, "gemma3n:e2b", free=True, reported=None, prices=PRICES) == (0.0, "free")
    assert compute_cost(usage, "mystery-model", free=False, reported=None, prices=PRICES) == (0.0, "unpriced")


def test_user_price_file_overrides_and_extends(tmp_path):
    path = write(
        tmp_path / "prices.yaml",
        "gemini-2.5-flash: {input: 1.0, output: 2.0}\n"
        "my-model: {input: 3.0, output: 4.0, cached_input: 0.5}\n",
    )
    prices = load_prices(path)
    assert compute_cost(
        TokenUsage(1_000_000, 1_000_000), "gemini-2.5-flash", free=False, reported=None, prices=prices
    )[0] == pytest.approx(3.0)
    assert compute_cost(
        TokenUsage(2_000_000, 0, cached=1_000_000), "my-model", free=False, reported=None, prices=prices
    )[0] == pytest.approx(3.5)
    bad = write(tmp_path / "bad.yaml", "m: {input: 1.0}\n")
    with pytest.raises(ConfigError, match="needs input and output"):
        load_prices(bad)


TOOLS = [
    Tool(
        "search_properties",
        "Search listings.",
        {"type": "object", "properties": {"city": {"type": "string"}}},
    ),
    Tool("book_visit", "Book a visit."),
]


def test_native_tool_format():
    assert native_tools(TOOLS)[0] == {
        "type": "function",
        "function": {
            "name": "search_properties",
            "description": "Search listings.",
            "parameters": TOOLS[0].parameters,
        },
    }


def test_prompted_tool_calls_are_parsed():
    call = parse_prompted_tool_call('{"tool": "search_properties", "arguments": {"city": "Curitiba"}}', TOOLS)
    assert call.name == "search_properties" and call.arguments == {"city": "Curitiba"}
    fenced = parse_prompted_tool_call('```json\n{"tool": "book_visit", "arguments": {}}\n```', TOOLS)
    assert fenced.name == "book_visit"
    assert parse_prompted_tool_call("Claro! Qual cidade?", TOOLS) is None
    assert parse_prompted_tool_call('{"answer": 42}', TOOLS) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"tool": "search_properties", "arguments": {"city": }', "not valid JSON"),
        ('{"tool": "delete_everything", "arguments": {}}', "unknown tool 'delete_everything'"),
        ('{"tool": "book_visit", "arguments": "tomorrow"}', "arguments must be a JSON object"),
        ('Vou buscar: {"tool": "book_visit"}', "bare JSON object"),
    ],
)
def test_invalid_prompted_tool_calls_fail_clearly(text, message):
    with pytest.raises(ProviderError) as info:
        parse_prompted_tool_call(text, TOOLS)
    assert info.value.kind == FailureKind.MALFORMED and message in str(info.value)


def test_prompted_tools_go_into_the_system_message():
    messages = with_prompted_tools(
        [{"role": "system", "content": "Be nice."}, {"role": "user", "content": "hi"}], TOOLS
    )
    assert messages[0]["content"].startswith("Be nice.") and '"tool": "<tool name>"' in messages[0]["content"]
    assert "book_visit" in messages[0]["content"] and messages[1] == {"role": "user", "content": "hi"}


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_circuit_breaker_opens_probes_and_closes():
    clock = Clock()
    breaker = CircuitBreaker(failures=3, cooldown_s=30, clock=clock)
    for _ in range(2):
        assert breaker.allow()
        breaker.failure()
    assert breaker.state == "closed"
    breaker.failure()
    assert breaker.state == "open" and not breaker.allow()
    clock.now = 29.9
    assert not breaker.allow()
    clock.now = 30.0
    assert breaker.state == "half_open"
    assert breaker.allow() and not breaker.allow()  # one probe at a time
    breaker.failure()  # the probe failed: open again for a full cooldown
    assert breaker.state == "open"
    clock.now = 60.0
    assert breaker.allow()
    breaker.success()
    assert breaker.state == "closed" and breaker.allow()


def test_backoff_is_exponential_with_jitter_and_capped():
    import random

    policy = RetryPolicy(backoff_base_s=0.5, backoff_max_s=4.0)
    rng = random.Random(1)
    for attempt, cap in ((0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (6, 4.0)):
        delays = [policy.delay(attempt, rng) for _ in range(200)]
        assert all(0 <= d <= cap for d in delays) and max(delays) > cap * 0.8
