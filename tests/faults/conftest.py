"""The servers every fault test talks to: the faulty target and the local LLM provider, one each."""

from collections.abc import Iterator

import pytest

from convoload_demo.faulty import FaultyServer, FaultyServerSettings
from convoload_demo.llmserver import LocalLLMServer
from tests.faults.harness import GOAL_TURN


@pytest.fixture(scope="session")
def faulty_server() -> Iterator[FaultyServer]:
    with FaultyServer(FaultyServerSettings(goal_turn=GOAL_TURN)) as server:
        yield server


@pytest.fixture
def faulty(faulty_server: FaultyServer) -> FaultyServer:
    """The faulty target with an empty plan and fresh counters; each test sets its own faults."""
    faulty_server.set_faults([])
    return faulty_server


@pytest.fixture(scope="session")
def llm_server() -> Iterator[LocalLLMServer]:
    with LocalLLMServer() as server:
        yield server


@pytest.fixture
def llm(llm_server: LocalLLMServer) -> LocalLLMServer:
    llm_server.reset()
    llm_server.set_script({})
    return llm_server
