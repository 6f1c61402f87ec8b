"""What a swarm turn reports: one event per agent start, LLM call, tool call, handoff and message."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class SwarmEvent:
    session_id: str
    timestamp: float = field(default_factory=time.time)

    @property
    def type(self) -> str:
        return type(self).__name__

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict with the event's class name under ``type``."""
        return {"type": self.type, **asdict(self)}


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentStarted(SwarmEvent):
    agent: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LLMCall(SwarmEvent):
    agent: str
    provider: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_ms: float
    fallback_used: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCalled(SwarmEvent):
    agent: str
    tool: str
    arguments: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolResult(SwarmEvent):
    agent: str
    tool: str
    ok: bool
    summary: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Handoff(SwarmEvent):
    from_agent: str
    to_agent: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageOutput(SwarmEvent):
    agent: str
    text: str
