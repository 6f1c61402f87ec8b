"""Health checks of the watched components: HTTP endpoints and LLM providers."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from convoload.envsecrets import redact, secret_from_env
from convoload.llm.providers import ProviderSpec, spec_from_label
from convoload.monitor.config import Component

DOWN_STATUSES = {"down", "error", "fail", "failed", "unhealthy"}


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    up: bool
    latency_s: float | None
    detail: str  # "ok", "HTTP 503", "unreachable (ConnectError)", ...


def provider_spec(provider: str) -> ProviderSpec:
    """`openrouter` or `openrouter/some-model`: the model does not matter for a reachability check."""
    return spec_from_label(provider if "/" in provider else f"{provider}/health-check", field="components")


def check_url(
    name: str, url: str, timeout_s: float, headers: dict[str, str] | None = None
) -> ComponentStatus:
    """Up when the URL answers 2xx and, if it answers JSON with a `status`, that status is not a failure."""
    started = time.perf_counter()
    try:
        response = httpx.get(url, timeout=timeout_s, headers=headers or {})
    except httpx.HTTPError as exc:
        return ComponentStatus(name, False, None, redact(f"unreachable ({type(exc).__name__})"))
    latency = time.perf_counter() - started
    if response.status_code >= 300:
        return ComponentStatus(name, False, latency, f"HTTP {response.status_code}")
    try:
        status = response.json().get("status") if "json" in response.headers.get("content-type", "") else None
    except (ValueError, AttributeError):
        status = None
    if isinstance(status, str) and status.lower() in DOWN_STATUSES:
        return ComponentStatus(name, False, latency, f"status {status}")
    return ComponentStatus(name, True, latency, "ok" if status in (None, "ok") else f"status {status}")


def check_provider(name: str, spec: ProviderSpec, timeout_s: float) -> ComponentStatus:
    """GET <base_url>/models with the provider's key from the environment (the key is never shown)."""
    if spec.name == "local" and not spec.base_url:
        return ComponentStatus(name, True, 0.0, "bundled (offline)")
    key = secret_from_env(spec.api_key_env) if spec.api_key_env else None
    if spec.api_key_env and not key:
        return ComponentStatus(name, False, None, f"{spec.api_key_env} not set")
    status = check_url(
        name,
        spec.base_url.rstrip("/") + "/models",
        timeout_s,
        {"Authorization": f"Bearer {key}"} if key else None,
    )
    if status.detail in ("HTTP 401", "HTTP 403"):
        return ComponentStatus(name, False, status.latency_s, f"key rejected ({status.detail})")
    return status


def check_component(component: Component, timeout_s: float) -> ComponentStatus:
    if component.url is not None:
        return check_url(component.name, component.url, timeout_s)
    assert component.provider is not None
    return check_provider(component.name, provider_spec(component.provider), timeout_s)
