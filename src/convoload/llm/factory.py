"""Build the provider chain from the config."""

from __future__ import annotations

import os
from pathlib import Path

from convoload.config import Config, ProviderConfig
from convoload.errors import ConfigError
from convoload.llm.chain import ProviderChain, RetryPolicy
from convoload.llm.client import ProviderClient
from convoload.llm.cost import load_prices
from convoload.llm.providers import PRESETS, ProviderSpec, model_has_native_tools, spec_from_label

LOCAL_DEFAULT = "local/persona"


def default_label() -> str:
    """Without configuration: Gemini or OpenRouter when a key is set, else the bundled local provider."""
    if os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY"):
        return "gemini/gemini-2.5-flash"
    if os.environ.get("OPENROUTER_API_KEY"):
        return "openrouter/google/gemma-3-27b-it:free"
    return LOCAL_DEFAULT


def provider_specs(config: Config, local_base_url: str | None = None) -> list[ProviderSpec]:
    specs = [_spec(p, f"llm.providers[{i}]", config.source) for i, p in enumerate(config.llm.providers)]
    if not specs:
        specs = [spec_from_label(config.user.llm or default_label(), field=config.source)]
    if local_base_url is not None:
        specs = [_with_url(s, local_base_url) if s.name == "local" else s for s in specs]
    return specs


def needs_local_server(specs: list[ProviderSpec]) -> bool:
    return any(s.name == "local" and not s.base_url for s in specs)


def build_chain(config: Config, specs: list[ProviderSpec]) -> ProviderChain:
    llm = config.llm
    prices_file = llm.prices_file
    if prices_file and not Path(prices_file).is_absolute():
        prices_file = str(config.base_dir / prices_file)
    prices = load_prices(prices_file)
    policy = RetryPolicy(
        retries=llm.retries,
        backoff_base_s=llm.backoff_base_s,
        backoff_max_s=llm.backoff_max_s,
        max_retry_after_s=llm.max_retry_after_s,
    )
    return ProviderChain(
        [ProviderClient(spec, prices) for spec in specs],
        policy=policy,
        breaker_failures=llm.breaker_failures,
        breaker_cooldown_s=llm.breaker_cooldown_s,
    )


def _spec(p: ProviderConfig, field: str, source: str) -> ProviderSpec:
    preset = PRESETS.get(p.name, {})
    base_url = p.base_url or preset.get("base_url")
    if base_url is None:
        raise ConfigError(
            source, f"{field}.base_url", f"{p.name!r} is not a preset provider: give its base_url"
        )
    api_key_env = preset.get("api_key_env") if p.api_key_env == "preset" else p.api_key_env
    return ProviderSpec(
        name=p.name,
        base_url=base_url,
        model=p.model,
        api_key_env=api_key_env,
        timeout_s=p.timeout_s,
        native_tools=model_has_native_tools(p.model) if p.native_tools is None else p.native_tools,
        free=bool(preset.get("free", False)) if p.free is None else p.free,
        headers=p.headers,
    )


def _with_url(spec: ProviderSpec, base_url: str) -> ProviderSpec:
    from dataclasses import replace

    return replace(spec, base_url=base_url)
