"""LLMBrain: the active agent's instructions, the history and its tools, sent through the provider chain.

Native tool calls or prompted JSON is the provider client's business (``ProviderSpec.native_tools``).
When any provider of the chain uses prompted JSON, tool calls and results in the history are replayed
as plain text, which every chat API accepts.
"""

from __future__ import annotations

import json
from typing import Any

from convoload.llm.chain import ProviderChain
from convoload.llm.types import FailureKind, LLMUnavailable
from convoload_demo.realestate.swarm.brain import BrainDecision, BrainTurn, LLMUsage, Message


class LLMBrain:
    def __init__(
        self, chain: ProviderChain, params: dict[str, Any] | None = None, *, max_history: int = 40
    ) -> None:
        self.chain = chain
        self.params = dict(params or {})
        self.max_history = max_history
        self._flatten = any(not client.spec.native_tools for client in chain.clients)

    def decide(self, turn: BrainTurn) -> BrainDecision:
        history = _recent(turn.history, self.max_history)
        if self._flatten:
            history = [_as_text(m) for m in history]
        messages = [{"role": "system", "content": turn.agent.instructions}, *history]
        tools = [tool.spec() for tool in turn.agent.tools]
        try:
            result = self.chain.complete(messages, tools=tools or None, params=self.params)
        except LLMUnavailable as exc:
            reason = _bad_tool_call(exc)
            if reason is None:
                raise
            # The model wrote an unusable tool call: tell it so (the orchestrator's step cap bounds retries).
            return BrainDecision(rejected=reason)
        response = result.response
        usage = LLMUsage(
            provider=response.provider,
            model=response.model,
            prompt_tokens=response.usage.prompt,
            completion_tokens=response.usage.completion,
            cost_usd=response.cost_usd,
            latency_ms=response.latency_ms,
            fallback_used=bool(result.fallbacks),
        )
        if response.tool_calls:
            return BrainDecision(
                text=response.text or None, tool_calls=list(response.tool_calls), usage=usage
            )
        return BrainDecision(text=response.text, usage=usage)


def _bad_tool_call(exc: LLMUnavailable) -> str | None:
    """The client's complaint when every provider failed only because the tool call text was invalid."""
    if exc.errors and all(e.kind is FailureKind.MALFORMED and "tool call" in str(e) for e in exc.errors):
        return str(exc.errors[-1])
    return None


def _recent(history: list[Message], limit: int) -> list[Message]:
    """The last `limit` messages, never starting with a tool result whose call was cut off."""
    recent = history[-limit:]
    while recent and recent[0].get("role") == "tool":
        recent = recent[1:]
    return recent


def _as_text(message: Message) -> Message:
    if message.get("role") == "tool":
        return {"role": "user", "content": f"[tool result] {message.get('content')}"}
    if message.get("tool_calls"):
        calls = [
            {"tool": c["function"]["name"], "arguments": json.loads(c["function"]["arguments"] or "{}")}
            for c in message["tool_calls"]
        ]
        text = "\n".join(json.dumps(call, ensure_ascii=False) for call in calls)
        return {"role": "assistant", "content": text}
    return message
