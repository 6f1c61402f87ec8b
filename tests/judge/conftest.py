"""Fixtures of the judge tests: one real local LLM provider (the deterministic judge) for the module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from convoload_demo.llmserver import LLMServerSettings, LocalLLMServer


@pytest.fixture(scope="module")
def llm_server() -> Iterator[LocalLLMServer]:
    with LocalLLMServer(LLMServerSettings(seed=1)) as server:
        yield server


@pytest.fixture
def llm(llm_server: LocalLLMServer) -> LocalLLMServer:
    """The shared server with an empty script and no history."""
    llm_server.set_script({})
    llm_server.reset()
    return llm_server
