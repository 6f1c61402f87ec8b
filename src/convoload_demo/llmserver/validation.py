"""Validate a chat-completions body the way OpenAI does: 400s naming the offending parameter.

Unknown top-level parameters are ignored rather than rejected, like OpenRouter and Ollama do, so
clients that send provider extensions (``usage``, ``provider``, ``reasoning``) keep working.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from convoload_demo.llmserver.errors import OpenAIError, invalid

ROLES = ("system", "assistant", "user", "function", "tool", "developer")
_TOOL_CHOICES = ("none", "auto", "required")
_RESPONSE_FORMATS = ("text", "json_object", "json_schema")


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    seed: int | None = None
    max_tokens: int | None = None
    params: dict[str, Any] = field(default_factory=dict)  # every other parameter, as sent

    def forced_tool(self) -> str | None:
        """Tool named by ``tool_choice: {"type": "function", "function": {"name": ...}}``."""
        if isinstance(self.tool_choice, dict):
            return self.tool_choice["function"]["name"]
        return None


def not_json() -> OpenAIError:
    return invalid(
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't using "
        "your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not "
        "valid JSON.)"
    )


def parse_json_body(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise not_json() from None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number" if isinstance(value, float) else "an integer"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _wrong_type(param: str, expected: str, value: Any) -> OpenAIError:
    return invalid(
        f"Invalid type for '{param}': expected {expected}, but got {_kind(value)} instead.",
        param,
        "invalid_type",
    )


def _missing(param: str) -> OpenAIError:
    return invalid(f"Missing required parameter: '{param}'.", param, "missing_required_parameter")


def _bad_value(param: str, value: Any, allowed: tuple[str, ...]) -> OpenAIError:
    listed = ", ".join(f"'{a}'" for a in allowed)
    return invalid(f"Invalid value: '{value}'. Supported values are: {listed}.", param, "invalid_value")


def _number(body: dict[str, Any], name: str, low: float, high: float) -> None:
    if name not in body or body[name] is None:
        return
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _wrong_type(name, "a decimal", value)
    if value < low:
        raise invalid(
            f"Invalid '{name}': decimal below minimum value. Expected a value >= {low:g}, but got {value} "
            "instead.",
            name,
            "decimal_below_min_value",
        )
    if value > high:
        raise invalid(
            f"Invalid '{name}': decimal above maximum value. Expected a value <= {high:g}, but got {value} "
            "instead.",
            name,
            "decimal_above_max_value",
        )


def _integer(body: dict[str, Any], name: str, minimum: int | None = None) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _wrong_type(name, "an integer", value)
    if minimum is not None and value < minimum:
        raise invalid(
            f"Invalid '{name}': integer below minimum value. Expected a value >= {minimum}, but got {value} "
            "instead.",
            name,
            "integer_below_min_value",
        )
    return value


def _content(message: dict[str, Any], where: str, required: bool) -> None:
    param = f"{where}.content"
    if "content" not in message or message["content"] is None:
        if required:
            raise _missing(param)
        return
    content = message["content"]
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise _wrong_type(param, "one of a string or array of objects", content)
    for j, part in enumerate(content):
        if not isinstance(part, dict):
            raise _wrong_type(f"{param}[{j}]", "an object", part)
        if "type" not in part:
            raise _missing(f"{param}[{j}].type")
        if part["type"] == "text" and not isinstance(part.get("text"), str):
            raise _wrong_type(f"{param}[{j}].text", "a string", part.get("text"))


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    if "messages" not in body:
        raise _missing("messages")
    messages = body["messages"]
    if not isinstance(messages, list):
        raise _wrong_type("messages", "an array", messages)
    if not messages:
        raise invalid(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty "
            "array instead.",
            "messages",
            "empty_array",
        )
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise _wrong_type(where, "an object", message)
        if "role" not in message:
            raise _missing(f"{where}.role")
        role = message["role"]
        if role not in ROLES:
            raise _bad_value(f"{where}.role", role, ROLES)
        # An assistant turn may carry only tool calls; every other role must say something.
        calls = message.get("tool_calls") or message.get("function_call")
        _content(message, where, required=not (role == "assistant" and calls))
        if role == "tool" and not isinstance(message.get("tool_call_id"), str):
            raise _missing(f"{where}.tool_call_id")
    return messages


def _tools(body: dict[str, Any]) -> list[dict[str, Any]] | None:
    tools = body.get("tools")
    if tools is None:
        return None
    if not isinstance(tools, list):
        raise _wrong_type("tools", "an array", tools)
    if not tools:
        raise invalid(
            "Invalid 'tools': empty array. Expected an array with minimum length 1, but got an empty array "
            "instead.",
            "tools",
            "empty_array",
        )
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise _wrong_type(f"tools[{i}]", "an object", tool)
        if tool.get("type") != "function":
            raise _bad_value(f"tools[{i}].type", tool.get("type"), ("function",))
        function = tool.get("function")
        if not isinstance(function, dict):
            raise _missing(f"tools[{i}].function")
        if not isinstance(function.get("name"), str) or not function["name"]:
            raise _missing(f"tools[{i}].function.name")
    return tools


def _tool_choice(body: dict[str, Any], has_tools: bool) -> str | dict[str, Any] | None:
    choice = body.get("tool_choice")
    if choice is None:
        return None
    if not has_tools:
        raise invalid(
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
            "tool_choice",
        )
    if isinstance(choice, str):
        if choice not in _TOOL_CHOICES:
            raise _bad_value("tool_choice", choice, _TOOL_CHOICES)
        return choice
    if not isinstance(choice, dict):
        raise _wrong_type("tool_choice", "one of a string or object", choice)
    function = choice.get("function")
    if choice.get("type") != "function" or not isinstance(function, dict) or not function.get("name"):
        raise _missing("tool_choice.function.name")
    return choice


def _response_format(body: dict[str, Any]) -> None:
    fmt = body.get("response_format")
    if fmt is None:
        return
    if not isinstance(fmt, dict):
        raise _wrong_type("response_format", "an object", fmt)
    if fmt.get("type") not in _RESPONSE_FORMATS:
        raise _bad_value("response_format.type", fmt.get("type"), _RESPONSE_FORMATS)
    if fmt["type"] == "json_schema" and not isinstance(fmt.get("json_schema"), dict):
        raise _missing("response_format.json_schema")


def validate_chat_request(body: Any) -> ChatRequest:
    """A checked :class:`ChatRequest`, or :class:`OpenAIError` (400) describing the first problem."""
    if not isinstance(body, dict):
        raise invalid(f"Invalid type for body: expected an object, but got {_kind(body)} instead.")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise invalid("you must provide a model parameter", "model")
    messages = _messages(body)
    tools = _tools(body)
    tool_choice = _tool_choice(body, tools is not None)
    _number(body, "temperature", 0, 2)
    _number(body, "top_p", 0, 1)
    max_tokens = _integer(body, "max_tokens", 1)
    max_completion = _integer(body, "max_completion_tokens", 1)
    seed = _integer(body, "seed")
    n = _integer(body, "n", 1)
    if n is not None and n != 1:
        raise invalid("The local provider only supports n=1.", "n", "unsupported_value")
    _response_format(body)
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise _wrong_type("stream", "a boolean", stream)
    if stream:
        raise invalid(
            "Streaming is not supported by the local provider (convoload_demo.llmserver); send stream=false.",
            "stream",
            "unsupported_value",
        )
    params = {k: v for k, v in body.items() if k not in ("model", "messages", "tools")}
    return ChatRequest(
        model=model,
        messages=messages,
        tools=tools,
        tool_choice=tool_choice,
        seed=seed,
        max_tokens=max_completion if max_completion is not None else max_tokens,
        params=params,
    )
