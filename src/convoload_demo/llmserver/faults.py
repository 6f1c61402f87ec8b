"""Injected failures: a queue of scripted faults and the error answers they produce."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from convoload_demo.llmserver.errors import OpenAIError
from convoload_demo.llmserver.script import Fault

# Faults answered with an HTTP error; the others change a 200 answer (or its timing).
ERROR_KINDS = ("rate_limit", "server_error", "unavailable", "tools_unsupported")
OLLAMA_NO_TOOLS = "registry.ollama.ai/library/gemma3n:e2b does not support tools"
OPENROUTER_NO_TOOLS = (
    "No endpoints found that support tool use. To learn more about provider routing, visit: "
    "https://openrouter.ai/docs/provider-routing"
)


class FaultQueue:
    """Scripted faults in order; each request consumes one use of the first fault it matches.

    Not thread-safe on its own: the runtime calls it under its lock.
    """

    def __init__(self, faults: Iterable[Fault] = ()) -> None:
        self._queue: list[list[Any]] = [[fault, fault.times] for fault in faults]

    def take(self, model: str, has_tools: bool) -> Fault | None:
        for entry in self._queue:
            fault: Fault = entry[0]
            if fault.model is not None and fault.model != model:
                continue
            if fault.kind == "tools_unsupported" and not has_tools:
                continue  # a provider without tool support serves plain chat requests fine
            entry[1] -= 1
            if entry[1] == 0:
                self._queue.remove(entry)
            return fault
        return None

    def pending(self) -> list[dict[str, Any]]:
        return [{**fault.model_dump(), "times": left} for fault, left in self._queue]

    def clear(self) -> None:
        self._queue.clear()


def _seconds_header(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else repr(float(seconds))


def fault_error(fault: Fault) -> OpenAIError:
    """The HTTP error of an error-kind fault, shaped like the provider it imitates."""
    if fault.kind == "rate_limit":
        return OpenAIError(
            429,
            fault.message or "Rate limit reached for requests. Please try again later.",
            type="rate_limit_exceeded",
            code="rate_limit_exceeded",
            headers={"Retry-After": _seconds_header(fault.retry_after)},
        )
    if fault.kind == "server_error":
        return OpenAIError(
            500,
            fault.message or "The server had an error while processing your request. Sorry about that!",
            type="server_error",
        )
    if fault.kind == "unavailable":
        return OpenAIError(
            503,
            fault.message or "The engine is currently overloaded, please try again later.",
            type="server_error",
            code="service_unavailable",
        )
    if fault.kind == "tools_unsupported" and fault.style == "ollama":
        return OpenAIError(400, fault.message or OLLAMA_NO_TOOLS, type="api_error")
    if fault.kind == "tools_unsupported":
        message = fault.message or OPENROUTER_NO_TOOLS
        # OpenRouter's own shape: no type, no param, the HTTP status repeated as the code.
        return OpenAIError(404, message, body={"error": {"message": message, "code": 404}})
    raise ValueError(f"fault {fault.kind!r} is not an HTTP error")
