"""The real-estate playbook answers what a property assistant asks, in the persona's words."""

from convoload.identity import IdentityFactory
from convoload.model import TurnRecord
from convoload.personas import builtin_personas
from convoload.users.scripted import ScriptedUser


def dialogue(persona_name, agent_lines):
    persona = builtin_personas()[persona_name]
    user = ScriptedUser(persona.model_copy(update={"steps": []}), IdentityFactory(3).identity(0), seed=1)
    turns, said = [], []
    for line in [None, *agent_lines]:
        if turns:
            turns[-1].reply_text = line
        message = user.next_message(turns)
        said.append(None if message is None else message.text)
        if message is None:
            break
        turns.append(TurnRecord(iteration=len(turns) + 1, user_text=message.text, sent_at=""))
    return said, user


def test_family_journey_from_greeting_to_booking():
    said, user = dialogue(
        "renata",
        [
            "Olá! Sou a assistente da imobiliária. Você quer comprar ou alugar, e em qual cidade?",
            "Encontrei 42 imóveis. Os melhores:\n1) Apartamento — R$ 590.000 — 3 quartos — Água Verde "
            "(código #812)\nQuer saber mais sobre algum? É só dizer o número.",
            "Apartamento no Água Verde: condomínio R$ 650... Quer agendar uma visita?",
            "O condomínio é R$ 650 por mês. Quer agendar uma visita?",
            "São 2 vagas. Quer agendar uma visita?",
            "Para qual dia e horário? Atendemos de segunda a sábado, das 9h às 18h.",
            "Esse horário está ocupado. Horários disponíveis: 29/11 às 11h, 29/11 às 14h.",
            "Para confirmar, preciso do seu nome completo, telefone e e-mail.",
            "Visita agendada! Código VIS-ABC123, 29/11 às 11h, Apartamento — Água Verde.",
        ],
    )
    assert "Curitiba" in said[1] and "650 mil" in said[1] and "3 quartos" in said[1]
    assert said[2] == "quero saber mais do 1" or said[2] == "me fala mais do 1"
    assert said[3] == "qual o valor do condomínio?" and said[4] == "quantas vagas de garagem tem?"
    assert "agendar" in said[5] and said[6] == "pode ser sábado às 10h"
    assert said[7] == "pode ser 29/11 às 11h"
    assert (
        user.identity.full_name in said[8]
        and user.identity.email in said[8]
        and user.identity.phone in said[8]
    )
    assert said[9] is None and user.stop_reason == "visit_booked"


def test_missing_criteria_are_given_when_asked():
    said, _ = dialogue("helena", ["Qual o seu orçamento máximo?", "Quantos quartos você precisa?"])
    assert said[1] == "meu orçamento é até R$ 8 milhões" and said[2] == "preciso de 4 quartos"


def test_english_persona():
    said, _ = dialogue(
        "marcus",
        [
            "Hello! Do you want to buy or rent, and in which city?",
            "For which day and time? We are open Monday to Saturday, 9am to 6pm.",
            "To confirm I need your full name, phone and e-mail.",
        ],
    )
    assert said[1].startswith("Hi! I'm relocating to Florianópolis") and said[2] == "Monday at 9am, please"
    assert said[3].startswith("sure:\nName: ")


def test_gives_up_when_nothing_is_found():
    said, user = dialogue(
        "ricardo", ["Você quer comprar ou alugar?", "Não encontrei imóveis com esses critérios."]
    )
    assert said[-1] is None and user.stop_reason == "no_listing_found"


def test_picks_an_offered_slot_never_the_refused_one():
    refusal = (
        "O horário de 28/11 às 10h não está disponível. Horários disponíveis: 28/11 às 11h, 28/11 às 12h "
        "ou 28/11 às 13h. Qual prefere?"
    )
    said, _ = dialogue(
        "renata",
        [
            "Para qual dia e horário? Atendemos de segunda a sábado, das 9h às 18h.",
            refusal,
            refusal.replace("28/11 às 10h não", "28/11 às 11h não"),
        ],
    )
    assert said[1] == "pode ser sábado às 10h"
    assert said[2] == "pode ser 28/11 às 11h"
    assert said[3] == "pode ser 28/11 às 12h"  # 11h was tried already
