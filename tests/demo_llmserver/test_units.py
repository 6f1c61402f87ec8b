"""In-process checks of the pieces that are awkward to observe over HTTP: jitter and cache bounds."""

from __future__ import annotations

from convoload_demo.llmserver import LLMServerSettings, Script
from convoload_demo.llmserver.runtime import Runtime
from convoload_demo.llmserver.tokens import PrefixCache
from tests.demo_llmserver.helpers import prompt_estimate


def test_delay_uses_flags_jitter_and_script_overrides() -> None:
    runtime = Runtime(LLMServerSettings(latency_s=1.0, jitter_s=0.5, seed=3))
    delays = [runtime.delay(runtime.script) for _ in range(200)]
    assert all(0.5 <= d <= 1.5 for d in delays)
    assert len(set(delays)) > 100, "jitter varies the delay"
    assert min(delays) < 0.7 and max(delays) > 1.3, "and spans the whole +/- range"
    assert runtime.delay(Script(latency_s=0.2, jitter_s=0.0)) == 0.2
    again = Runtime(LLMServerSettings(latency_s=1.0, jitter_s=0.5, seed=3))
    assert [again.delay(again.script) for _ in range(200)] == delays, "--seed makes it reproducible"


def test_prefix_cache_is_bounded_lru() -> None:
    cache = PrefixCache(max_entries=4)
    a = [{"role": "system", "content": "aaaa"}, {"role": "user", "content": "1"}]
    b = [{"role": "system", "content": "bbbb"}, {"role": "user", "content": "2"}]
    assert cache.cached_tokens("m", a) == 0
    assert cache.cached_tokens("m", a) == prompt_estimate(a)
    assert cache.cached_tokens("m", b) == 0
    assert len(cache) == 4
    c = [{"role": "system", "content": "cccc"}]
    cache.cached_tokens("m", c)  # evicts the least recently used entry: a's first prefix
    assert len(cache) == 4
    assert cache.cached_tokens("m", b) == prompt_estimate(b), "recently used prefixes survive"
    assert cache.cached_tokens("m", a[:1]) == 0, "the oldest one was forgotten"
