"""The brain interface: given the active agent, the history and the tools, decide the next step."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from convoload.llm.types import ToolCall
from convoload_demo.realestate.swarm.agents import Agent

Message = dict[str, Any]


@dataclass(frozen=True, slots=True)
class BrainTurn:
    session_id: str
    agent: Agent
    history: list[Message]  # OpenAI chat format: user / assistant (maybe with tool_calls) / tool


@dataclass(frozen=True, slots=True)
class LLMUsage:
    """What one model call cost; the orchestrator turns it into an LLMCall event."""

    provider: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_ms: float
    fallback_used: bool


@dataclass(frozen=True, slots=True)
class BrainDecision:
    """Exactly one of: a message for the customer, tool calls, or a rejected (invalid) tool call."""

    text: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    rejected: str | None = None  # why the model's tool call was unusable; fed back to it
    usage: LLMUsage | None = None

    @classmethod
    def say(cls, text: str) -> BrainDecision:
        return cls(text=text)

    @classmethod
    def call(cls, name: str, **arguments: Any) -> BrainDecision:
        return cls(tool_calls=[ToolCall(name, arguments)])


class Brain(Protocol):
    def decide(self, turn: BrainTurn) -> BrainDecision: ...


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """A tool call of the previous step and what it returned (parsed back from the history)."""

    name: str
    arguments: dict[str, Any]
    result: dict[str, Any]

    @property
    def ok(self) -> bool:
        return "error" not in self.result


def trailing_tool_outcomes(history: list[Message]) -> list[ToolOutcome]:
    """The tool results at the end of the history, matched with the calls that asked for them."""
    results: list[Message] = []
    index = len(history) - 1
    while index >= 0 and history[index].get("role") == "tool":
        results.insert(0, history[index])
        index -= 1
    if not results or index < 0:
        return []
    calls = {c["id"]: c["function"] for c in history[index].get("tool_calls") or []}
    outcomes = []
    for message in results:
        function = calls.get(message.get("tool_call_id"), {"name": "?", "arguments": "{}"})
        outcomes.append(
            ToolOutcome(function["name"], json.loads(function["arguments"]), json.loads(message["content"]))
        )
    return outcomes


def last_user_text(history: list[Message]) -> str:
    for message in reversed(history):
        if message.get("role") == "user":
            return str(message.get("content") or "")
    return ""


def user_message_count(history: list[Message]) -> int:
    return sum(1 for m in history if m.get("role") == "user")
