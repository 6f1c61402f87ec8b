"""The scripted user completes every built-in journey against the demo assistant (in process)."""

import re

import pytest

from convoload.conversation.goals import LinkGoal
from convoload.conversation.loop import run_conversation
from convoload.events import AgentChanged, EventBus
from convoload.identity import IdentityFactory
from convoload.model import Outcome, TurnRecord
from convoload.personas import builtin_personas, load_persona_file
from convoload.targets.base import Session
from convoload.targets.python import PythonTarget
from convoload.users.scripted import ScriptedUser
from convoload_demo.tickets.assistant import TicketAssistant
from tests.helpers import write


def converse(persona, index=0, assistant=None):
    assistant = assistant or TicketAssistant()

    def agent(text, session, iteration):
        reply = assistant.reply(session.session_id, text)
        return {"text": reply.messages, "agent": reply.agent}

    identity = IdentityFactory(11).identity(index)
    session = Session(f"s{index}", index + 1, persona.name, identity)
    bus = EventBus()
    changes = []
    bus.subscribe(AgentChanged, changes.append)
    record = run_conversation(
        run_id="t",
        session=session,
        # Personas that name no playbook get the bundled ticket agent's, as in a run against it.
        user=ScriptedUser(persona, identity, seed=index, default_playbook="tickets"),
        target=PythonTarget(agent),
        goal=LinkGoal(),
        bus=bus,
    )
    return record, changes


@pytest.mark.parametrize("name", ["kataryna", "talliz", "edman"])
def test_builtin_personas_reach_the_payment_link(name):
    persona = builtin_personas()[name]
    for index in range(5):  # phrasing varies with the seed; every variant must work
        record, changes = converse(persona, index)
        assert record.outcome == Outcome.GOAL_REACHED, [(t.user_text, t.reply_text) for t in record.turns]
        assert record.iterations <= 15
        assert "https://pay.example.com/pix/" in record.turns[-1].reply_text
        assert changes, "the demo hands over from atendimento to vendas to pagamento"


def test_journeys_follow_the_personas():
    personas = builtin_personas()
    kataryna, _ = converse(personas["kataryna"])
    said = " ".join(t.user_text for t in kataryna.turns).lower()
    final = kataryna.turns[-1].reply_text
    assert "11/10/2026" in said and "2 adultos e 2 crianças" in said and "cabana" in final.lower()

    talliz, _ = converse(personas["talliz"])
    replies = [t.reply_text.lower() for t in talliz.turns]
    assert any("fechado" in r for r in replies), "20/11 is closed and the agent says so"
    assert "21/11" in talliz.turns[-1].reply_text and "arvorar" in talliz.turns[-1].reply_text.lower()
    assert "onde fica" in talliz.turns[1].user_text or "onde fica" in talliz.turns[2].user_text
    assert "cabana" not in talliz.turns[-1].reply_text.lower()

    edman, _ = converse(personas["edman"])
    final = edman.turns[-1].reply_text.lower()
    assert "gestante" in final and "idoso" in final and "cabana" not in final
    booked = re.search(r"data: (\d{2})/11/2026", final)
    assert booked and 8 <= int(booked.group(1)) <= 14, "a date in the second week of November"


def test_english_persona_completes_in_english(tmp_path):
    persona = load_persona_file(
        write(
            tmp_path / "ann.yaml",
            """
name: Ann
language: en
facts: {date: "12/12", quantities: {adulto: 2, crianca: 1}, payment_method: card}
behaviours: {accepts_optin: true, accepts_upsell: false}
""",
        )
    )
    record, _ = converse(persona)
    assert record.outcome == Outcome.GOAL_REACHED
    assert (
        "accept" in record.turns[0].reply_text.lower() and "promotions" in record.turns[0].reply_text.lower()
    )
    assert "https://pay.example.com/card/" in record.turns[-1].reply_text


def test_text_persona_from_a_seed_file_completes_offline(tmp_path):
    persona = load_persona_file(
        write(
            tmp_path / "persona_3.txt",
            """Persona 3 - Edman Smart
Cliente focado em data específica. Consulta disponibilidade.
Pede segunda semana de novembro. Quantidade: 1 adulto, 1 gestante, 2 idosos.
RECUSA upselling. Prossegue até pagamento via PIX.
""",
        )
    )
    record, _ = converse(persona)
    assert record.outcome == Outcome.GOAL_REACHED


def test_user_gives_up_when_the_agent_makes_no_sense():
    persona = builtin_personas()["kataryna"]
    identity = IdentityFactory(1).identity(0)
    record = run_conversation(
        run_id="t",
        session=Session("x", 1, "Kataryna", identity),
        user=ScriptedUser(persona, identity),
        target=PythonTarget(lambda t, s, i: "blorp"),
        goal=LinkGoal(),
        bus=EventBus(),
    )
    assert record.outcome == Outcome.USER_STOPPED
    assert record.stop_reason == "agent_not_understood"
    assert record.iterations < 8


def test_max_iterations_caps_a_conversation():
    persona = builtin_personas()["talliz"]
    identity = IdentityFactory(1).identity(0)
    record = run_conversation(
        run_id="t",
        session=Session("x", 1, "Talliz", identity),
        user=ScriptedUser(persona, identity),
        target=PythonTarget(lambda t, s, i: "Para qual data você gostaria dos ingressos?"),
        goal=LinkGoal(),
        bus=EventBus(),
        max_iterations=3,
    )
    assert record.outcome == Outcome.MAX_ITERATIONS and record.iterations == 3


def test_user_answers_what_was_asked_even_out_of_order():
    persona = builtin_personas()["kataryna"]
    user = ScriptedUser(persona.model_copy(update={"steps": []}), IdentityFactory(2).identity(4), seed=1)
    turns = []

    def ask(reply):
        if turns:
            turns[-1].reply_text = reply
        message = user.next_message(turns)
        turns.append(TurnRecord(iteration=len(turns) + 1, user_text=message.text, sent_at=""))
        return message.text

    ask(None)
    assert "12" in ask("Qual o seu CPF?") or user.identity.cpf in turns[-1].user_text
    assert user.identity.cpf in turns[-1].user_text and user.identity.email not in turns[-1].user_text
    assert "2 adultos e 2 crianças" in ask("Quantas pessoas vão?")
    assert "11/10/2026" in ask("Para qual data?")
    assert "pix" in ask("Como prefere pagar: PIX ou cartão?").lower()
    assert "cabana" in ask("Quer adicionar a Cabana na Floresta ou a Experiência Tirolesa?").lower()
