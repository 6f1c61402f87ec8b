"""Shared test helpers: the expected token estimates, recomputed independently of the server."""

from __future__ import annotations

import math
from typing import Any

import httpx

API_KEY = "sk-local-test-key"


def tokens(text: str) -> int:
    """4 characters a token, rounded up (the provider's documented estimate)."""
    return math.ceil(len(text) / 4)


def prompt_estimate(messages: list[dict[str, Any]]) -> int:
    return sum(tokens(m.get("content") or "") + 4 for m in messages)


def chat(http: httpx.Client, **body: Any) -> httpx.Response:
    return http.post("/v1/chat/completions", json=body)
