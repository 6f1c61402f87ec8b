"""Persona mode: answer as the simulated customer described by a ``<persona>`` block.

The caller is an LLM-driven *customer*: ``user`` messages are what the agent under test said and
``assistant`` messages are the customer's own earlier lines. The reply is computed by replaying the
dialogue through convoload's :class:`ScriptedUser`, so the same conversation always gets the same
answer and the scripted user's state advances exactly as it would in a live run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from convoload.errors import ConfigError
from convoload.identity import Identity
from convoload.model import TurnRecord
from convoload.personas.model import Persona
from convoload.users.scripted import ScriptedUser
from convoload_demo.llmserver.errors import invalid
from convoload_demo.llmserver.tokens import content_text

CONVERSATION_START = "[CONVERSATION_START]"
DEFAULT_PLAYBOOK = "tickets"
STOP = "[STOP]"
_BLOCK = re.compile(r"<persona>(.*?)</persona>", re.DOTALL)
_INSTRUCTION_ROLES = ("system", "developer")


def persona_blocks(messages: Sequence[dict[str, Any]]) -> list[str]:
    """Contents of every ``<persona>...</persona>`` block in the system/developer messages."""
    found: list[str] = []
    for message in messages:
        if message.get("role") in _INSTRUCTION_ROLES:
            found += _BLOCK.findall(content_text(message.get("content")))
    return found


def persona_language(messages: Sequence[dict[str, Any]]) -> str:
    """The language of the (first) ``<persona>`` block: "en", else "pt-BR" (the personas' default)."""
    for block in persona_blocks(messages):
        try:
            spec = json.loads(block)
        except ValueError:
            break
        if isinstance(spec, dict) and str(spec.get("language", "")).lower().startswith("en"):
            return "en"
        break
    return "pt-BR"


def build_user(block: str, seed: int | None) -> ScriptedUser:
    """The scripted customer of one ``<persona>`` block; ``OpenAIError`` (400) when it is not valid."""
    param = "messages[0].content"
    try:
        spec = json.loads(block)
    except ValueError as exc:
        raise invalid(f"The <persona> block is not valid JSON: {exc}", param) from None
    if not isinstance(spec, dict):
        raise invalid("The <persona> block must hold a JSON object.", param)
    identity_data = spec.pop("identity", None)
    if not isinstance(identity_data, dict):
        raise invalid("The <persona> block needs an 'identity' object.", param)
    try:
        persona = Persona.model_validate(spec)
        identity = Identity(**identity_data)
        # A persona that names no playbook plays a park visitor: what this server's callers expect.
        seed = seed if seed is not None else identity.email
        return ScriptedUser(persona, identity, seed=seed, default_playbook=DEFAULT_PLAYBOOK)
    except ValidationError as exc:
        raise invalid(f"Invalid persona in the <persona> block: {exc.errors()[0]['msg']}", param) from None
    except ConfigError as exc:
        raise invalid(f"Invalid persona in the <persona> block: {exc.field}: {exc.message}", param) from None
    except (TypeError, KeyError, ValueError) as exc:
        raise invalid(f"Invalid <persona> block: {exc}", param) from None


def _agent_turns(messages: Sequence[dict[str, Any]]) -> list[tuple[str | None, str]]:
    """(customer line before it or None, agent text) per agent reply; consecutive agent messages join.

    ``[CONVERSATION_START]`` is an agent "reply" of its own, kept apart so it never joins real text.
    """
    turns: list[tuple[str | None, str]] = []
    customer: str | None = None
    pending: list[str] = []

    def flush() -> None:
        nonlocal customer
        if pending:
            turns.append((customer, "\n\n".join(pending)))
            pending.clear()
            customer = None

    for message in messages:
        role, text = message.get("role"), content_text(message.get("content"))
        if role == "assistant":
            flush()
            customer = text
        elif role == "user" and text.strip() == CONVERSATION_START:
            flush()
            turns.append((customer, CONVERSATION_START))
            customer = None
        elif role == "user":
            pending.append(text)
    flush()
    return turns


def persona_reply(messages: Sequence[dict[str, Any]], seed: int | None) -> str:
    """The customer's next line, or ``[STOP]`` once the scripted user has stopped."""
    blocks = persona_blocks(messages)
    if len(blocks) != 1:
        raise invalid(
            f"Persona mode needs exactly one <persona> block in the system message, found {len(blocks)}.",
            "messages",
        )
    user = build_user(blocks[0], seed)
    agent_turns = _agent_turns(messages)
    if not agent_turns:
        raise invalid(
            f"Persona mode needs a user message (the agent's reply, or {CONVERSATION_START}).", "messages"
        )
    turns: list[TurnRecord] = []
    answer: str | None = None
    for customer, agent_text in agent_turns:
        if agent_text == CONVERSATION_START:
            turns = []  # the customer opens: exactly what a live run passes on its first turn
        else:
            # The reply closes the turn the customer's line opened (an empty one if the agent spoke first).
            turns.append(
                TurnRecord(
                    iteration=len(turns) + 1, user_text=customer or "", sent_at="", reply_text=agent_text
                )
            )
        message = user.next_message(turns)
        if message is None:
            return STOP
        answer = message.text
    assert answer is not None
    return answer
