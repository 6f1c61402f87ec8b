"""The orchestrator and the rule brain against an in-memory catalog, with a fixed clock."""

from __future__ import annotations

import re
from datetime import datetime

from convoload_demo.realestate.swarm import (
    AgentStarted,
    BrainDecision,
    BrainTurn,
    Handoff,
    MessageOutput,
    RuleBasedBrain,
    SwarmEvent,
    SwarmOrchestrator,
    ToolCalled,
    ToolResult,
)
from convoload_demo.realestate.swarm.orchestrator import STEP_CAP_MESSAGE
from tests.realestate_swarm.fakes import FakeCatalog

NOW = datetime(2025, 11, 22, 16, 30)  # a Saturday afternoon in São Paulo
LINE = re.compile(r"^\d\) .+ — R\$ [\d.]+ — \d+ quartos — .+ \(código #\d+\)$", re.MULTILINE)


def swarm(catalog: FakeCatalog, events: list[SwarmEvent] | None = None) -> SwarmOrchestrator:
    observer = events.append if events is not None else None
    return SwarmOrchestrator(catalog, RuleBasedBrain(now=lambda: NOW), observer=observer)


def talk(orchestrator: SwarmOrchestrator, session: str, *messages: str) -> str:
    text = ""
    for message in messages:
        text = orchestrator.reply(session, message).text
    return text


def test_greeting_criteria_questions_and_results() -> None:
    events: list[SwarmEvent] = []
    catalog = FakeCatalog()
    s = swarm(catalog, events)
    first = s.reply("s1", "Oi, tudo bem?")
    assert first.agent == "triagem"
    assert "comprar ou alugar" in first.text and "cidade" in first.text
    second = s.reply("s1", "Quero comprar um apartamento em Curitiba")
    assert second.handoffs == [("triagem", "busca")]
    assert second.agent == "busca" and "orçamento" in second.text
    assert "quartos" in s.reply("s1", "até R$ 650 mil").text
    listing = s.reply("s1", "3 quartos")
    assert listing.tool_calls == ["search_properties"]
    assert len(LINE.findall(listing.text)) == 2
    assert listing.text.endswith("Quer saber mais sobre algum? É só dizer o número.")
    assert catalog.searches[-1] == {
        "transaction_type": "sale",
        "city": "Curitiba",
        "property_type": ["apartment"],
        "bedrooms_min": 3,
        "price_max": 650_000,
        "sort": "price_asc",
        "page_size": 5,
    }
    # The observer saw exactly what the replies carried, in order.
    carried = [e for r in (first, second) for e in r.events]
    assert events[: len(carried)] == carried
    assert all(e.session_id == "s1" and e.timestamp > 0 for e in events)


def test_no_results_then_a_new_budget_searches_again() -> None:
    s = swarm(FakeCatalog())
    text = talk(s, "s2", "comprar apartamento em Curitiba até 100 mil com 3 quartos")
    assert text == "Não encontrei imóveis com esses critérios. Quer aumentar o orçamento ou mudar o bairro?"
    assert "Desculpe, não entendi" in s.reply("s2", "hmm").text
    again = s.reply("s2", "pode ser até 700 mil")
    assert again.tool_calls == ["search_properties"] and "#11" in again.text and "#12" in again.text


def test_details_follow_ups_and_nested_address() -> None:
    s = swarm(FakeCatalog())
    talk(s, "s3", "comprar apartamento em Curitiba até 650 mil, 3 quartos")
    details = s.reply("s3", "o primeiro")
    assert details.handoffs == [("busca", "imovel")] and details.agent == "imovel"
    for part in ("R$ 600.000", "R$ 800/mês", "R$ 2.400/ano", "80 m²", "1 suítes", "Água Verde", "piscina"):
        assert part in details.text
    assert details.text.endswith("Quer agendar uma visita?")
    answer = s.reply("s3", "qual o valor do condomínio? e o endereço?").text
    assert answer == (
        "O condomínio é R$ 800 por mês. Fica em Rua Chile, 100 — Água Verde, Curitiba (CEP 80240-000). "
        "Quer agendar uma visita?"
    )
    assert s.reply("s3", "aceita pet?").text.startswith("Sim, aceita pets.")
    assert s.reply("s3", "e o segundo?").text.startswith("Apartamento com 3 quartos à venda — Portão")


def test_visit_on_a_sunday_offers_monday_slots_and_books() -> None:
    catalog = FakeCatalog()
    s = swarm(catalog)
    talk(s, "s4", "comprar apartamento em Curitiba até 650 mil, 3 quartos", "o segundo")
    ask = s.reply("s4", "sim, quero agendar")
    assert ask.handoffs == [("imovel", "agendamento")]
    assert ask.text == "Para qual dia e horário? Atendemos de segunda a sábado, das 9h às 18h."
    closed = s.reply("s4", "domingo às 10h").text
    assert closed == (
        "Não fazemos visitas aos domingos. Horários disponíveis: 24/11 às 9h, 24/11 às 10h ou 24/11 às 11h. "
        "Qual prefere?"
    )
    assert "nome completo" in s.reply("s4", "pode ser às 11h").text
    missing = s.reply("s4", "Nome: Maria Clara Souza").text
    assert missing == "Obrigado! Ainda preciso do seu telefone e e-mail."
    booked = s.reply("s4", "(41) 99876-5432, maria@example.com")
    assert booked.tool_calls == ["book_visit"]
    assert booked.text == (
        "Visita agendada! Código VIS-000001, 24/11 às 11h, Apartamento com 3 quartos à venda — Portão, "
        "Curitiba — Portão."
    )
    visit = catalog.booked[(12, "2025-11-24T11:00")]
    assert (visit["visitor_name"], visit["visitor_phone"]) == ("Maria Clara Souza", "41998765432")
    assert "VIS-000001" in s.reply("s4", "obrigada!").text


def test_past_time_today_offers_what_is_left_and_the_next_day() -> None:
    s = swarm(FakeCatalog())
    talk(s, "s5", "comprar apartamento em Curitiba até 650 mil, 3 quartos", "o primeiro", "sim")
    text = s.reply("s5", "hoje às 15h").text
    assert text.startswith("Esse horário já passou. Horários disponíveis: 22/11 às 17h, 24/11 às 9h")


def test_taken_slot_offers_alternatives_near_it() -> None:
    catalog = FakeCatalog()
    catalog.booked[(11, "2025-11-24T10:00")] = {}
    s = swarm(catalog)
    talk(s, "s6", "comprar apartamento em Curitiba até 650 mil, 3 quartos", "o primeiro", "sim")
    text = s.reply("s6", "segunda às 10h").text
    assert text == (
        "O horário de 24/11 às 10h não está disponível. Horários disponíveis: 24/11 às 9h, 24/11 às 11h ou "
        "24/11 às 12h. Qual prefere?"
    )
    assert "nome completo" in s.reply("s6", "o segundo").text


def test_booking_race_409_offers_the_catalog_alternatives_and_keeps_the_data() -> None:
    catalog = FakeCatalog()
    s = swarm(catalog)
    talk(s, "s7", "comprar apartamento em Curitiba até 650 mil, 3 quartos", "o primeiro", "sim")
    assert "nome completo" in s.reply("s7", "segunda às 14h").text
    catalog.booked[(11, "2025-11-24T14:00")] = {}  # someone else was faster
    race = s.reply("s7", "Nome: João Pedro Alves, telefone 41 98888-1111, joao@example.com")
    assert race.text.startswith(
        "Esse horário acabou de ser reservado por outra pessoa. Horários disponíveis:"
    )
    assert "24/11 às 9h" in race.text
    done = s.reply("s7", "o primeiro")
    assert done.tool_calls == ["book_visit"] and done.text.startswith("Visita agendada! Código VIS-")
    assert (11, "2025-11-24T09:00") in catalog.booked


def test_english_session() -> None:
    s = swarm(FakeCatalog())
    assert "buy or rent" in s.reply("e1", "Hello").text
    assert "budget" in s.reply("e1", "I want to buy an apartment in Curitiba").text
    assert "bedrooms" in s.reply("e1", "up to 650,000").text
    listing = s.reply("e1", "3 bedrooms").text
    assert "— 3 bedrooms — Água Verde (code #11)" in listing
    assert listing.endswith("Want to know more about one of them? Just tell me the number.")
    assert s.reply("e1", "number 1").text.endswith("Would you like to schedule a visit?")
    assert s.reply("e1", "yes").text == "For which day and time? We are open Monday to Saturday, 9am to 6pm."
    assert "To confirm I need your full name, phone and e-mail." in s.reply("e1", "Monday at 9am").text
    booked = s.reply("e1", "Name: John Smith\nPhone: +55 41 99999-0000\nEmail: john@example.com").text
    assert booked.startswith("Visit booked! Code VIS-000001, 24/11 at 09:00")


class ScriptedBrain:
    """Returns the given decisions in order, then repeats the last one."""

    def __init__(self, *decisions: BrainDecision) -> None:
        self.decisions = list(decisions)
        self.turns: list[BrainTurn] = []

    def decide(self, turn: BrainTurn) -> BrainDecision:
        self.turns.append(turn)
        return self.decisions.pop(0) if len(self.decisions) > 1 else self.decisions[0]


def test_step_cap_ends_the_turn_politely() -> None:
    brain = ScriptedBrain(
        BrainDecision.call("transfer_to_busca"), BrainDecision.call("get_property", property_id=11)
    )
    s = SwarmOrchestrator(FakeCatalog(), brain, max_steps_per_turn=3)
    reply = s.reply("cap", "oi")
    assert reply.text == STEP_CAP_MESSAGE
    assert reply.tool_calls == ["transfer_to_busca", "get_property", "get_property"]
    assert reply.agent == "busca"
    assert isinstance(reply.events[-1], MessageOutput)


def test_unknown_tools_and_bad_arguments_are_fed_back_as_errors() -> None:
    brain = ScriptedBrain(
        BrainDecision.call("fly_to_the_moon"),
        BrainDecision.call("transfer_to_imovel"),
        BrainDecision.call("get_property"),
        BrainDecision.call("get_property", property_id=999),
        BrainDecision.call("get_property", property_id=11, colour="blue"),
        BrainDecision.say("pronto"),
    )
    s = SwarmOrchestrator(FakeCatalog(), brain)
    reply = s.reply("bad", "oi")
    results = [e for e in reply.events if isinstance(e, ToolResult)]
    assert [r.ok for r in results] == [False, True, False, False, False]
    assert "unknown tool 'fly_to_the_moon'" in results[0].summary
    assert results[2].summary == "missing arguments: property_id"
    assert results[3].summary == "HTTP 404: property not found"
    assert results[4].summary.startswith("invalid arguments:")
    tool_messages = [m for m in s.history("bad") if m["role"] == "tool"]
    assert '"status": 404' in tool_messages[3]["content"]
    assert (reply.text, reply.agent) == ("pronto", "imovel")


def test_event_sequence_of_a_handoff() -> None:
    brain = ScriptedBrain(BrainDecision.call("transfer_to_busca"), BrainDecision.say("ok"))
    reply = SwarmOrchestrator(FakeCatalog(), brain).reply("ev", "oi")
    kinds = [type(e).__name__ for e in reply.events]
    assert kinds == ["AgentStarted", "ToolCalled", "Handoff", "ToolResult", "AgentStarted", "MessageOutput"]
    assert reply.events[2] == Handoff(
        session_id="ev", timestamp=reply.events[2].timestamp, from_agent="triagem", to_agent="busca"
    )
    assert isinstance(reply.events[1], ToolCalled) and isinstance(reply.events[4], AgentStarted)
    assert reply.events[-1].to_json()["type"] == "MessageOutput"


def test_sessions_are_independent() -> None:
    s = swarm(FakeCatalog())
    s.reply("a", "quero comprar em Curitiba")
    b = s.reply("b", "oi")
    assert b.agent == "triagem" and "comprar ou alugar" in b.text
    assert s.active_agent("a") == "busca" and s.active_agent("b") == "triagem"
