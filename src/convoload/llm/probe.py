"""`convoload llm check`: is each configured provider usable? Keys are reported as set or not, never shown."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from convoload.envsecrets import redact, secret_from_env
from convoload.llm.client import is_loopback
from convoload.llm.providers import ProviderSpec


@dataclass(frozen=True, slots=True)
class ProbeResult:
    spec: ProviderSpec
    key_status: str
    status: str
    usable: bool


def probe_providers(specs: list[ProviderSpec], timeout_s: float = 5.0) -> list[ProbeResult]:
    """One result per provider of the chain (`convoload.load.wiring.provider_specs` of a config)."""
    results = []
    for spec in specs:
        key = secret_from_env(spec.api_key_env) if spec.api_key_env else None
        if spec.api_key_env is None:
            key_status = "not needed"
        else:
            key_status = f"{spec.api_key_env} set" if key else f"{spec.api_key_env} missing"
        if spec.name == "local" and not spec.base_url:
            results.append(ProbeResult(spec, key_status, "bundled (offline)", True))
            continue
        if spec.api_key_env is not None and not key:
            results.append(ProbeResult(spec, key_status, "no key", False))
            continue
        results.append(ProbeResult(spec, key_status, *_reach(spec, key, timeout_s)))
    return results


def _reach(spec: ProviderSpec, key: str | None, timeout_s: float) -> tuple[str, bool]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        response = httpx.get(
            spec.base_url.rstrip("/") + "/models",
            headers=headers,
            timeout=timeout_s,
            trust_env=not is_loopback(spec.base_url),  # as the calls themselves go (see ProviderClient)
        )
    except httpx.HTTPError as exc:
        return redact(f"unreachable ({type(exc).__name__})"), False
    if response.status_code in (401, 403):
        return f"key rejected (HTTP {response.status_code})", False
    if response.status_code >= 400:
        return f"HTTP {response.status_code}", False
    return "ok", True
