"""The local LLM provider every fault test talks to, one for the session (the faulty target is `faulty`,
in tests/fixtures/faulty.py, shared with the security tests)."""

from collections.abc import Iterator

import pytest

from convoload_demo.llmserver import LocalLLMServer


@pytest.fixture(scope="session")
def llm_server() -> Iterator[LocalLLMServer]:
    with LocalLLMServer() as server:
        yield server


@pytest.fixture
def llm(llm_server: LocalLLMServer) -> LocalLLMServer:
    llm_server.reset()
    llm_server.set_script({})
    return llm_server
