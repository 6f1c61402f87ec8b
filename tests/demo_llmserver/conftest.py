"""Fixtures: one real local LLM provider subprocess, reset before each test, and clients for it."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

# Running from a checkout without an installed package: make ``src`` importable.
_SRC = Path(__file__).resolve().parents[2] / "src"
if importlib.util.find_spec("convoload") is None and str(_SRC) not in sys.path:
    sys.path.insert(0, str(_SRC))

from convoload_demo.llmserver import LLMServerSettings, LocalLLMServer  # noqa: E402
from tests.demo_llmserver.helpers import API_KEY  # noqa: E402


@pytest.fixture(scope="session")
def llm_server() -> Iterator[LocalLLMServer]:
    with LocalLLMServer(LLMServerSettings(api_key=API_KEY, seed=1)) as server:
        yield server


@pytest.fixture
def llm(llm_server: LocalLLMServer) -> LocalLLMServer:
    """The shared server with an empty script and no history."""
    llm_server.set_script({})
    llm_server.reset()
    return llm_server


@pytest.fixture
def http(llm: LocalLLMServer) -> Iterator[httpx.Client]:
    """Raw HTTP with the right key, for what the SDK hides (headers, exact bodies)."""
    headers = {"Authorization": f"Bearer {API_KEY}"}
    # trust_env=False: loopback only, never an ambient proxy.
    with httpx.Client(base_url=llm.url, headers=headers, trust_env=False, timeout=10.0) as client:
        yield client


@pytest.fixture
def client(llm: LocalLLMServer) -> Iterator[openai.OpenAI]:
    """The real OpenAI SDK, without its own retries so every fault is visible."""
    with httpx.Client(trust_env=False) as transport:
        yield openai.OpenAI(base_url=llm.base_url, api_key=API_KEY, max_retries=0, http_client=transport)
