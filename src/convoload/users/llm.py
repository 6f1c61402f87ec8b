"""LLMUser: a simulated customer played by an LLM through the provider chain.

The system prompt holds the persona (description, goal, facts, behaviours) and
its synthetic identity, with simulation guidelines. In the message list the
agent under test speaks as `user` and the customer as `assistant`; the model
writes the customer's next message, or `[STOP]` when the goal is reached or
impossible. Each message is checked for simulator faults (users.simcheck); a faulty one is asked
for again once, with a note saying what was wrong, and a second fault ends the conversation as
`simulator_error` (the simulator's failure, not the agent's). Calls are recorded in the replay
cache and, with replay on, answered from it when the conversation so far matches a recorded one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from convoload.errors import ConvoloadError
from convoload.events import Event, LLMCalled, LLMError, LLMFallback
from convoload.identity import Identity
from convoload.llm.cache import LLMCache, cache_key
from convoload.llm.chain import Fallback, ProviderChain
from convoload.llm.types import FailureKind, LLMResponse, LLMUnavailable, ProviderError
from convoload.model import ErrorKind, SimulatorFault, TurnRecord, Usage
from convoload.personas.model import Persona
from convoload.users.base import UserFailure, UserMessage
from convoload.users.simcheck import STOP, SimCheck, SimChecker

START = "[CONVERSATION_START]"

_GUIDELINES = {
    "pt-BR": """Você é um cliente simulado conversando por WhatsApp com o assistente virtual de uma empresa.
Regras da simulação:
- Fique sempre no personagem abaixo; nunca diga que é uma IA ou um teste.
- Escreva em português do Brasil informal, estilo WhatsApp: mensagens curtas, uma por vez.
- Revele seus dados e fatos só quando o assistente pedir ou quando fizer sentido para o seu objetivo.
- Nunca invente fatos que não estão na persona (datas, quantidades, dados pessoais); use os fornecidos.
- Responda ao que o assistente perguntou por último.
- Quando o seu objetivo for atingido (por exemplo, você recebeu o link de pagamento) ou ficar impossível,
  responda apenas {stop}.""",
    "en": """You are a simulated customer chatting on WhatsApp with a company's virtual assistant.
Simulation rules:
- Always stay in the character below; never say you are an AI or a test.
- Write informal chat-style English: short messages, one at a time.
- Reveal your data and facts only when the assistant asks for them or when your goal needs them.
- Never invent facts that are not in the persona (dates, quantities, personal data); use the given ones.
- Answer what the assistant asked last.
- When your goal is reached (for example you received the payment link) or becomes impossible,
  answer only {stop}.""",
}


def _guidelines(persona: Persona) -> str:
    return _GUIDELINES["en" if persona.language == "en" else "pt-BR"].format(stop=STOP)


def retry_note(check: SimCheck) -> str:
    """What the model is told when its message is asked for again (a system message at the end)."""
    return (
        f"Your previous message was rejected by the simulation ({check.describe()}). Write the "
        f"customer's next message again: stay in character as the customer, in the persona's language "
        f"and with its own data; to end the conversation answer only {STOP}."
    )


def system_prompt(persona: Persona, identity: Identity) -> str:
    guidelines = _guidelines(persona)
    data = {**persona.model_dump(exclude={"weight"}), "identity": identity.as_dict()}
    parts = [guidelines, "", f"Persona: {persona.name}"]
    if persona.description:
        parts.append(persona.description.strip())
    if persona.goal:
        parts.append(f"Goal: {persona.goal}")
    parts += ["", "Persona data (JSON):", "<persona>", json.dumps(data, ensure_ascii=False), "</persona>"]
    return "\n".join(parts)


def conversation_messages(system: str, turns: Sequence[TurnRecord]) -> list[dict[str, str]]:
    """Agent as `user`, customer as `assistant`; the last message is the agent's (or the start marker)."""
    messages = [{"role": "system", "content": system}, {"role": "user", "content": START}]
    for turn in turns:
        messages.append({"role": "assistant", "content": turn.user_text})
        if turn.reply_text is not None:
            messages.append({"role": "user", "content": turn.reply_text})
    return messages


@dataclass
class LLMSettings:
    """What every LLM user of a run shares."""

    chain: ProviderChain
    cache: LLMCache | None = None
    replay: bool = False
    retries: int = 3  # whole-chain attempts per message before the turn fails
    params: dict[str, Any] = field(default_factory=lambda: {"temperature": 0.7, "max_tokens": 300})


class LLMUser:
    def __init__(
        self,
        persona: Persona,
        identity: Identity,
        settings: LLMSettings,
        *,
        mixed: bool = False,
        emit: Callable[[Event], None] | None = None,
        session_id: str = "",
    ) -> None:
        self.persona = persona
        self.identity = identity
        self.settings = settings
        self.stop_reason: str | None = None
        self._steps = list(persona.steps) if mixed else []
        self._system = system_prompt(persona, identity)
        self._checker = SimChecker(persona, identity, _guidelines(persona))
        self.retried_faults: list[SimCheck] = []  # faults a retry recovered from, in order
        self._emit = emit or _never
        self._ids = {"session_id": session_id, "persona": persona.name}
        # The persona's name and a digest of its content: editing a persona invalidates its recordings.
        digest = hashlib.sha256(persona.model_dump_json().encode()).hexdigest()[:16]
        self._persona_key = f"{persona.name}#{digest}"

    def next_message(self, turns: Sequence[TurnRecord]) -> UserMessage | None:
        if self._steps:  # mixed mode: the persona's fixed messages first, then the LLM
            return UserMessage(self._steps.pop(0))
        messages = conversation_messages(self._system, turns)
        heard = "\n".join(t.reply_text for t in turns if t.reply_text)
        usage = Usage()
        check: SimCheck | None = None
        for attempt in range(2):  # a faulty message is asked for once more, then it is the simulator's error
            asked = (
                messages if check is None else [*messages, {"role": "system", "content": retry_note(check)}]
            )
            try:
                response = self._answer(asked)
            except UserFailure as exc:
                exc.usage = usage if attempt else None
                raise
            except _EmptyAnswer:
                text, check = "", SimCheck(SimulatorFault.EMPTY, "the model returned an empty message")
            else:
                usage.add(_usage(response))
                text = response.text.strip()
                check = self._checker.check(text, heard)
            if check.ok:
                break
            if attempt == 0:
                self.retried_faults.append(check)
        else:
            assert check is not None and check.fault is not None
            raise UserFailure(
                ErrorKind.SIMULATOR,
                f"simulator fault, also after a retry: {check.describe()}",
                fault=check.fault,
                usage=usage,
            )
        if STOP in text:
            self.stop_reason = "goal_reached_or_impossible"
            return UserMessage("", usage=usage, stop=True)
        return UserMessage(text, usage=usage)

    def _answer(self, messages: list[dict[str, str]]) -> LLMResponse:
        s = self.settings
        key = cache_key(s.chain.primary, self._persona_key, messages, s.params)
        if s.cache is not None and s.replay:
            cached = s.cache.get(key)
            if cached is not None:
                self._emit_call(cached)
                return cached
        last_error: LLMUnavailable | None = None
        for _ in range(max(1, s.retries)):
            try:
                result = s.chain.complete(messages, params=s.params)
            except LLMUnavailable as exc:
                # Counted even when a later whole-chain attempt succeeds: the providers did fail.
                self._emit_failures(exc.errors, exc.fallbacks)
                if exc.kind == FailureKind.EMPTY:
                    # The model answered, with nothing: the simulator's fault, not an outage.
                    raise _EmptyAnswer from None
                last_error = exc
                continue
            self._emit_failures(result.errors, result.fallbacks)
            response = result.response
            self._emit_call(response)
            if s.cache is not None:
                s.cache.put(key, self._persona_key, response)
            return response
        raise UserFailure(ErrorKind.LLM, str(last_error))

    def _emit_failures(self, errors: list[ProviderError], fallbacks: list[Fallback]) -> None:
        for error in errors:
            self._emit(LLMError(**self._ids, provider=error.provider or "?", kind=error.kind.value))
        for fallback in fallbacks:
            self._emit(
                LLMFallback(
                    **self._ids,
                    from_provider=fallback.from_provider,
                    to_provider=fallback.to_provider,
                    reason=fallback.reason,
                )
            )

    def _emit_call(self, response: LLMResponse) -> None:
        self._emit(LLMCalled.of(response, **self._ids))


class _EmptyAnswer(ConvoloadError):
    """The last provider of the chain answered with an empty message."""


def _never(event: Event) -> None:
    pass


def _usage(response: LLMResponse) -> Usage:
    u = response.usage
    if response.from_cache:
        return Usage(replayed_calls=1, saved_tokens=u.total, saved_cost_usd=response.cost_usd)
    return Usage(
        prompt_tokens=u.prompt,
        completion_tokens=u.completion,
        total_tokens=u.total,
        cached_tokens=u.cached,
        reasoning_tokens=u.reasoning,
        cost_usd=response.cost_usd,
        llm_calls=1,
    )
