"""Injected failures: a queue of scripted faults and the error answers they produce, and the
simulator faults persona answers can be given on demand."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from convoload_demo.llmserver.errors import OpenAIError
from convoload_demo.llmserver.persona import STOP, persona_language
from convoload_demo.llmserver.replies import Reply
from convoload_demo.llmserver.script import Fault

if TYPE_CHECKING:  # the runtime holds the fault state and imports this module
    from convoload_demo.llmserver.runtime import Runtime

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


# What each simulator fault answers instead of the customer's line: (pt-BR, en). Each one trips
# exactly its own check in convoload.users.simcheck.
_SIM_FAULT_TEXTS: dict[str, tuple[str, str]] = {
    "empty": ("  ", "  "),
    "role_leak": (
        "Assistente: Olá! Sou a assistente virtual, como posso ajudar você hoje?",
        "Assistant: Hello! I'm your virtual assistant, how can I help you today?",
    ),
    "no_stop": ("Beleza, obrigado pela ajuda! Tchau.", "Great, thanks for the help! Bye."),
    "stop_mid": (f"{STOP} ah, e mais uma coisa: qual o horário?", f"{STOP} oh, one more thing: what time?"),
    "language_drift": (
        "Hola, quiero comprar las entradas para el sábado, por favor. ¿Cuánto cuesta todo esto?",
        "Oi, eu quero comprar os ingressos para sábado, por favor. Você tem isso para mim também?",
    ),
    "identity_drift": (
        "Meu nome é Fulano Beltrano e meu CPF é 529.982.247-25.",
        "My name is John Doe and my e-mail is john.doe@example.invalid.",
    ),
}


class SimFaults:
    """Scripted simulator faults (settings ``sim_fault``/``sim_fault_on``) for persona answers.

    Counts the persona answers it sees, so a test knows which one is faulty: ``on=(1, 2)`` makes
    the first answer and the retry convoload asks for faulty (the fault persists), ``on=(1,)`` only
    the first (the retry recovers). Not thread-safe on its own: the runtime calls it under its lock.
    """

    def __init__(self, kind: str | None, on: tuple[int, ...] = ()) -> None:
        self.kind = kind
        self.on = frozenset(on)
        self.answers = 0

    def apply(self, text: str, language: str) -> tuple[str, str | None]:
        """(the answer to give, the fault applied or None) for one persona answer."""
        self.answers += 1
        if self.kind is None or (self.on and self.answers not in self.on):
            return text, None
        pt, en = _SIM_FAULT_TEXTS[self.kind]
        return (en if language == "en" else pt), self.kind

    def reset(self) -> None:
        self.answers = 0


def sim_fault_reply(
    rt: Runtime, messages: Sequence[dict[str, Any]], reply: Reply
) -> tuple[Reply, str | None]:
    """A persona answer with the settings' simulator fault applied (see SimFaults), and the fault's
    name (None: the answer as it was)."""
    text, fault = rt.sim_fault(reply.content or "", persona_language(messages))
    return (reply if fault is None else Reply(text)), fault
