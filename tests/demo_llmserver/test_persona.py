"""Persona mode: the SDK call plays the customer against the demo ticket assistant, fully offline."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from convoload.identity import Identity, IdentityFactory
from convoload.model import TurnRecord
from convoload.personas import Persona, builtin_personas
from convoload.users.scripted import ScriptedUser
from convoload_demo.llmserver import LocalLLMServer
from convoload_demo.llmserver.persona import DEFAULT_PLAYBOOK
from convoload_demo.tickets.assistant import TicketAssistant
from tests.demo_llmserver.helpers import chat

pytestmark = pytest.mark.e2e

PAY_LINK = "https://pay.example.com/"
START = {"role": "user", "content": "[CONVERSATION_START]"}


def system_prompt(persona: Persona, identity: Identity) -> str:
    """What an LLM-driven user would send: instructions around exactly one <persona> block."""
    spec = {**persona.model_dump(mode="json", exclude={"weight"}), "identity": identity.as_dict()}
    return (
        "You are a customer talking to a ticket-booking assistant. Stay in character.\n"
        f"<persona>\n{json.dumps(spec, ensure_ascii=False)}\n</persona>\n"
        "Answer [STOP] when you are done."
    )


def customer_says(client: openai.OpenAI, model: str, messages: list[dict[str, Any]], **extra: Any) -> str:
    completion = client.chat.completions.create(model=model, messages=messages, **extra)
    return completion.choices[0].message.content or ""


def in_process_dialogue(persona: Persona, identity: Identity, seed: int | str, max_turns: int) -> list[str]:
    """The customer's lines when ScriptedUser talks to the same assistant directly (the reference)."""
    user = ScriptedUser(persona, identity, seed=seed, default_playbook=DEFAULT_PLAYBOOK)
    assistant, turns = TicketAssistant(), []
    said: list[str] = []
    for i in range(max_turns):
        message = user.next_message(turns)
        if message is None:
            break
        said.append(message.text)
        reply = "\n\n".join(assistant.reply("reference", message.text).messages)
        turns.append(TurnRecord(iteration=i + 1, user_text=message.text, sent_at="", reply_text=reply))
        if PAY_LINK in reply:
            break
    return said


@pytest.mark.parametrize("name", ["kataryna", "talliz", "edman"])
@pytest.mark.parametrize("model", ["persona", "openrouter/some-vendor/some-model"])
def test_builtin_persona_buys_tickets_through_the_sdk(
    client: openai.OpenAI, llm: LocalLLMServer, name: str, model: str
) -> None:
    persona = builtin_personas()[name]
    identity = IdentityFactory(7).identity(3)
    assistant = TicketAssistant()
    messages: list[dict[str, Any]] = [{"role": "system", "content": system_prompt(persona, identity)}, START]
    said: list[str] = []
    reply = ""
    for _ in range(15):
        line = customer_says(client, model, messages)
        assert line and line != "[STOP]", f"the customer gave up early after {said}"
        said.append(line)
        reply = "\n\n".join(assistant.reply(f"{name}-{model}", line).messages)
        messages += [{"role": "assistant", "content": line}, {"role": "user", "content": reply}]
        if PAY_LINK in reply:
            break
    assert PAY_LINK in reply, said
    assert said[0] == persona.steps[0], "scripted steps come first, verbatim"
    # Identical to ScriptedUser talking directly (default seed: the identity's e-mail).
    assert said == in_process_dialogue(persona, identity, identity.email, 15)
    assert len(llm.requests()) == len(said)


def test_request_seed_changes_the_phrasing_deterministically(client: openai.OpenAI) -> None:
    persona, identity = builtin_personas()["kataryna"], IdentityFactory(2).identity(0)
    assistant = TicketAssistant()
    messages: list[dict[str, Any]] = [{"role": "system", "content": system_prompt(persona, identity)}, START]
    said = []
    for _ in range(15):
        line = customer_says(client, "persona", messages, seed=5)
        said.append(line)
        reply = assistant.reply("seeded", line).text
        messages += [{"role": "assistant", "content": line}, {"role": "user", "content": reply}]
        if PAY_LINK in reply:
            break
    assert said == in_process_dialogue(persona, identity, 5, 15)
    # Asking again for the same history gives the same line (no hidden state on the server).
    assert customer_says(client, "persona", messages[:-2], seed=5) == said[-1]


def test_stop_when_the_scripted_user_stops(client: openai.OpenAI) -> None:
    persona = Persona(
        name="Picky",
        facts={"date": "20/11", "quantities": {"adulto": 1}},
        behaviours={"accepts_alternative_date": False},
    )
    identity = IdentityFactory(3).identity(1)
    messages: list[dict[str, Any]] = [{"role": "system", "content": system_prompt(persona, identity)}, START]
    opening = customer_says(client, "persona", messages)
    assert opening and opening != "[STOP]"
    closed = "Infelizmente o parque estará fechado no dia 20/11. Posso sugerir outra data?"
    messages += [{"role": "assistant", "content": opening}, {"role": "user", "content": closed}]
    assert customer_says(client, "persona", messages) == "[STOP]"
    # The reference agrees: the scripted user stops here, for this reason.
    reference = ScriptedUser(persona, identity, seed=identity.email, default_playbook=DEFAULT_PLAYBOOK)
    assert reference.next_message([]) is not None
    turn = TurnRecord(iteration=1, user_text=opening, sent_at="", reply_text=closed)
    assert reference.next_message([turn]) is None and reference.stop_reason == "date_unavailable"
    # Once stopped, it stays stopped.
    messages += [{"role": "assistant", "content": "[STOP]"}, {"role": "user", "content": "Ainda está aí?"}]
    assert customer_says(client, "persona", messages) == "[STOP]"


def test_agent_may_speak_first_and_split_its_reply(client: openai.OpenAI) -> None:
    persona = Persona(name="Quiet", facts={"date": "11/10/2026", "quantities": {"adulto": 2}})
    identity = IdentityFactory(4).identity(0)
    system = {"role": "system", "content": system_prompt(persona, identity)}
    split = [system, {"role": "user", "content": "Olá!"}, {"role": "user", "content": "Quantos ingressos?"}]
    joined = [system, {"role": "user", "content": "Olá!\n\nQuantos ingressos?"}]
    answer = customer_says(client, "persona", split)
    assert answer == customer_says(client, "persona", joined)
    assert "2 adultos" in answer


def persona_error(http: httpx.Client, model: str, system: str) -> dict[str, Any]:
    response = chat(http, model=model, messages=[{"role": "system", "content": system}, START])
    assert response.status_code == 400
    return response.json()["error"]


def test_persona_mode_errors(http: httpx.Client) -> None:
    persona, identity = builtin_personas()["edman"], IdentityFactory(1).identity(0)
    block = system_prompt(persona, identity)
    assert "exactly one <persona> block" in persona_error(http, "persona", "no block here")["message"]
    assert "found 2" in persona_error(http, "some-model", block + block)["message"]
    assert "not valid JSON" in persona_error(http, "persona", "<persona>{nope</persona>")["message"]
    no_identity = "<persona>" + json.dumps({"name": "X"}) + "</persona>"
    assert "identity" in persona_error(http, "persona", no_identity)["message"]
    unknown_field = block.replace('"name":', '"nickname": "x", "name":', 1)
    assert "Invalid persona" in persona_error(http, "persona", unknown_field)["message"]
    bad_playbook = block.replace('"playbook": "tickets"', '"playbook": "nope"', 1)
    assert bad_playbook != block
    assert "unknown playbook" in persona_error(http, "persona", bad_playbook)["message"]
    # "echo" stays echo even with a persona block in the prompt.
    echoed = chat(http, model="echo", messages=[{"role": "system", "content": block}, START]).json()
    assert echoed["choices"][0]["message"]["content"] == "echo: [CONVERSATION_START]"
