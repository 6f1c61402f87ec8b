"""What each scripted behaviour answers: echo, canned, tool and persona replies."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from convoload_demo.llmserver.persona import persona_reply
from convoload_demo.llmserver.script import Behaviour, Script
from convoload_demo.llmserver.tokens import CHARS_PER_TOKEN, content_text, estimate_tokens
from convoload_demo.llmserver.validation import ChatRequest


@dataclass(frozen=True)
class Reply:
    content: str | None
    tool_calls: list[dict[str, Any]] | None = None
    finish_reason: str = "stop"

    def completion_tokens(self) -> int:
        """Visible output tokens: the content plus each call's name and JSON arguments."""
        text = self.content or ""
        for call in self.tool_calls or []:
            text += call["function"]["name"] + call["function"]["arguments"]
        return estimate_tokens(text)

    def message(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": "assistant", "content": self.content, "refusal": None}
        if self.tool_calls:
            out["tool_calls"] = self.tool_calls
        return out


def echo_reply(request: ChatRequest) -> Reply:
    users = [m for m in request.messages if m.get("role") == "user"]
    return Reply("echo: " + (content_text(users[-1].get("content")) if users else ""))


def tool_reply(request: ChatRequest, script: Script, call_id: str) -> Reply | None:
    """One call to the scripted (or forced, or first) tool; None when the request allows no tool call."""
    if not request.tools or request.tool_choice == "none":
        return None
    spec = script.tool_call
    name = request.forced_tool() or spec.name or request.tools[0]["function"]["name"]
    if spec.as_text:
        # What a model without native tool calling writes when the prompt describes the tools.
        return Reply(json.dumps({"tool": name, "arguments": spec.arguments}, ensure_ascii=False))
    call = {
        "id": call_id,
        "type": "function",
        # Arguments travel as a JSON-encoded string, exactly like OpenAI sends them.
        "function": {"name": name, "arguments": json.dumps(spec.arguments, ensure_ascii=False)},
    }
    return Reply(None, [call], "tool_calls")


def behaviour_reply(
    behaviour: Behaviour,
    request: ChatRequest,
    script: Script,
    *,
    next_canned: Callable[[str], str],
    new_call_id: Callable[[], str],
) -> Reply:
    if behaviour == "persona":
        return Reply(persona_reply(request.messages, request.seed))
    if behaviour == "tool":
        reply = tool_reply(request, script, new_call_id())
        if reply is not None:
            return reply
        # No tools offered (or tool_choice "none"): answer in text like a model would.
        behaviour = "canned" if script.canned.get(request.model) else "echo"
    if behaviour == "canned":
        return Reply(next_canned(request.model))
    return echo_reply(request)


def limit_length(reply: Reply, max_tokens: int | None, reasoning_tokens: int) -> Reply:
    """Cut the content to the token budget left after reasoning, with ``finish_reason: length``."""
    if max_tokens is None or reply.tool_calls or reply.content is None:
        return reply
    visible = max(0, max_tokens - reasoning_tokens)
    if estimate_tokens(reply.content) <= visible:
        return reply
    return replace(reply, content=reply.content[: visible * CHARS_PER_TOKEN], finish_reason="length")
