"""Build the parts a run starts from its validated Config: the target connector (with its callback
receiver) and the simulated users' LLM provider chain.

These builders read the whole config, so they sit above it: `config` validates with the targets'
and providers' own parsers, and nothing under `targets/` or `llm/` imports `config` back.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from convoload.config import (
    PLATFORM_TYPES,
    Config,
    ProviderConfig,
    ReceiverConfig,
    SignatureConfig,
    config_error,
)
from convoload.envsecrets import secret_from_env
from convoload.errors import ConfigError
from convoload.llm.chain import ProviderChain, RetryPolicy
from convoload.llm.client import ProviderClient
from convoload.llm.cost import load_prices
from convoload.llm.providers import PRESETS as PROVIDER_PRESETS
from convoload.llm.providers import ProviderSpec, model_has_native_tools, spec_from_label
from convoload.plugins import import_callable
from convoload.targets.base import Target
from convoload.targets.http import HttpTarget
from convoload.targets.lean_wsgi import ConnectionLimits
from convoload.targets.python import PythonTarget
from convoload.targets.receiver import WebhookReceiver
from convoload.targets.signatures import SignatureScheme, SignatureVerifier
from convoload.targets.templating import BASE_PLACEHOLDERS, TemplateError, UrlTemplate, check_template
from convoload.targets.webhook import PRESETS, WebhookTarget


def build_target(
    config: Config,
    url: str | None = None,
    variables: dict[str, Any] | None = None,
    *,
    worker_index: int | None = None,
    callback_base: str | None = None,
) -> Target:
    """`url`/`variables` override the config (the demo fills them in once its server is up).

    Under a Locust worker, `worker_index` moves a fixed receiver port to `port + worker_index` (so
    workers sharing a machine do not collide) and fills `{worker_index}` in the public URL;
    `callback_base` is the master's forwarding address for this worker, when it forwards.
    """
    t = config.target
    kind = "webhook" if t.type == "demo" else t.type
    if kind in PLATFORM_TYPES:
        from convoload.platforms.wiring import build_platform_target  # it imports this module's peers

        return build_platform_target(config, worker_index=worker_index)
    if kind == "python":
        try:
            return PythonTarget(import_callable(t.function or ""))
        except ValueError as exc:
            raise config_error(config, "target.function", str(exc)) from None

    preset: dict[str, Any] = PRESETS.get(t.preset or ("widget" if t.type == "demo" else ""), {})
    body = t.body if t.body is not None else preset.get("body")
    all_variables = {**(variables or {}), **t.variables}
    allowed = BASE_PLACEHOLDERS | frozenset(all_variables)
    target_url = url or t.url or ""
    try:
        check_template(t.headers, "target.headers", allowed)
        check_template(body, "target.body", allowed)
        UrlTemplate(target_url, all_variables, field="target.url")
    except TemplateError as exc:
        raise config_error(config, exc.field, str(exc)) from None
    if body is not None and "{channel_id}" in str(body) and "channel_id" not in all_variables:
        raise config_error(config, "target.variables.channel_id", "the widget preset needs a channel_id")

    common = {
        "method": t.method,
        "headers": t.headers,
        "body": body,
        "variables": all_variables,
        "connect_timeout_s": t.connect_timeout_s,
    }
    if kind == "http":
        return HttpTarget(
            target_url,
            reply_path=t.reply_path or "reply",
            agent_path=t.agent_path or "agent",
            cost_path=t.cost_path,
            timeout_s=t.timeout_s,
            **common,
        )
    port = t.receiver.port + (worker_index or 0) if t.receiver.port else 0
    if port > 65535:
        raise config_error(
            config, "target.receiver.port", f"{t.receiver.port} + worker index {worker_index} is over 65535"
        )
    receiver = WebhookReceiver(
        host=t.receiver.host,
        port=port,
        public_url=t.receiver.public_url,
        max_body_bytes=t.receiver.max_body_bytes,
        message_id_path=t.message_id_path or preset.get("message_id_path", "messageId"),
        final_path=t.final_path or preset.get("final_path"),
        worker_index=worker_index,
        callback_base=callback_base,
        signature=signature_verifier(config),
        limits=connection_limits(t.receiver),
    )
    try:
        receiver.start()
    except OSError as exc:
        raise config_error(
            config,
            "target.receiver.port",
            f"cannot listen on {t.receiver.host}:{port}: {exc.strerror or exc}",
        ) from None
    except ValueError as exc:  # the public URL template
        receiver.stop()
        raise config_error(config, "target.receiver.public_url", str(exc)) from None
    return WebhookTarget(
        target_url,
        receiver,
        reply_path=t.reply_path or preset.get("reply_path", "text"),
        agent_path=t.agent_path or preset.get("agent_path", "agent"),
        cost_path=t.cost_path,
        ack_timeout_s=t.ack_timeout_s,
        reply_timeout_s=t.timeout_s,
        quiet_period_s=t.quiet_period_s,
        **common,
    )


def connection_limits(settings: ReceiverConfig) -> ConnectionLimits:
    """The receiver's (and the forwarding master's) limits on slow clients and open connections."""
    return ConnectionLimits(
        header_timeout_s=settings.header_timeout_s,
        body_timeout_s=settings.body_timeout_s,
        idle_timeout_s=settings.idle_timeout_s,
        max_connections=settings.max_connections,
    )


def signature_verifier(config: Config) -> SignatureVerifier | None:
    """What checks callback signatures, when `target.receiver.signature` asks for them."""
    signature = config.target.receiver.signature
    if signature is None:
        return None
    secret = secret_from_env(signature.secret_env)
    if not secret:  # checked when the config was loaded; the environment changed since
        field, name = "target.receiver.signature.secret_env", signature.secret_env
        raise config_error(config, field, f"environment variable {name} is not set")
    return SignatureVerifier(SignatureScheme.of(signature), secret, signature.tolerance_s)


def signature_headers(signature: SignatureConfig | None) -> tuple[str, ...]:
    """The request headers a callback signature needs (what a forwarding master passes on)."""
    if signature is None:
        return ()
    return tuple(h for h in (signature.header, signature.timestamp_header) if h)


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
    preset = PROVIDER_PRESETS.get(p.name, {})
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
    return replace(spec, base_url=base_url)
