"""Tool calling: native `tools` when the model has them, a prompted JSON protocol otherwise.

Gemma models on Ollama have no native tool calling; for them the tools are
described in the system message and the model answers with one JSON object
`{"tool": "<name>", "arguments": {...}}` when it wants to call one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from convoload.llm.types import FailureKind, ProviderError, ToolCall


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})


def native_tools(tools: list[Tool]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
        }
        for t in tools
    ]


def prompted_instruction(tools: list[Tool]) -> str:
    lines = [
        "You can call these tools. To call one, answer with ONLY a JSON object, nothing else:",
        '{"tool": "<tool name>", "arguments": {<arguments>}}',
        "Tools:",
    ]
    for tool in tools:
        lines.append(
            f"- {tool.name}: {tool.description} Arguments (JSON schema): "
            f"{json.dumps(tool.parameters, ensure_ascii=False)}"
        )
    lines.append("When no tool is needed, answer normally in plain text.")
    return "\n".join(lines)


def with_prompted_tools(messages: list[dict[str, Any]], tools: list[Tool]) -> list[dict[str, Any]]:
    instruction = prompted_instruction(tools)
    if messages and messages[0].get("role") == "system":
        first = {**messages[0], "content": f"{messages[0].get('content', '')}\n\n{instruction}"}
        return [first, *messages[1:]]
    return [{"role": "system", "content": instruction}, *messages]


_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


def parse_prompted_tool_call(text: str, tools: list[Tool]) -> ToolCall | None:
    """A tool call written as JSON text, or None for a plain answer.

    Text that clearly tries to be a tool call (a JSON object with "tool") but is
    invalid raises a MALFORMED ProviderError with what is wrong.
    """
    candidate = text.strip()
    fenced = _FENCE.match(candidate)
    if fenced:
        candidate = fenced.group(1).strip()
    if not candidate.startswith("{"):
        if '"tool"' in candidate:
            raise ProviderError(FailureKind.MALFORMED, "tool call must be a bare JSON object, got extra text")
        return None
    try:
        data = json.loads(candidate)
    except ValueError as exc:
        if '"tool"' in candidate:
            raise ProviderError(
                FailureKind.MALFORMED, f"tool call is not valid JSON ({exc.msg} at position {exc.pos})"
            ) from None
        return None
    if not isinstance(data, dict) or "tool" not in data:
        return None
    name = data.get("tool")
    known = {t.name for t in tools}
    if name not in known:
        raise ProviderError(
            FailureKind.MALFORMED,
            f"tool call names unknown tool {name!r} (known: {', '.join(sorted(known))})",
        )
    arguments = data.get("arguments", {})
    if not isinstance(arguments, dict):
        raise ProviderError(FailureKind.MALFORMED, f"tool call {name!r}: arguments must be a JSON object")
    return ToolCall(name=name, arguments=arguments)
