"""Five customers from hello to a booked visit, through the real catalog server and the in-process swarm.

Dates are relative to the real "today" in São Paulo, so the messages name weekdays (always in the
future) rather than fixed dates.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from convoload_demo.realestate.catalog.client import CatalogClient
from convoload_demo.realestate.swarm import Handoff, RuleBasedBrain, SwarmEvent, SwarmOrchestrator, SwarmReply

pytestmark = pytest.mark.e2e

JOURNEYS: dict[str, tuple[str, list[str]]] = {
    "family": (
        "Visita agendada!",
        [
            "Oi, boa tarde!",
            "Queremos comprar um apartamento em Curitiba, no Água Verde ou no Portão",
            "Até R$ 650 mil",
            "3 quartos",
            "quero saber mais do 1",
            "Qual o valor do condomínio e do IPTU?",
            "Sim, quero agendar",
            "próxima terça às 11h",
            "Nome: Mariana Souza Lima\nTelefone: (41) 99876-5432\nE-mail: mariana.lima@example.com",
        ],
    ),
    "investor": (
        "Visita agendada!",
        [
            "Olá, quero comprar um studio em São Paulo para investir, até R$ 400 mil",
            "o primeiro",
            "Qual o condomínio? E o IPTU?",
            "sim",
            "sábado às 10h",
            "Carlos Eduardo Pereira, +55 11 98765-4321, carlos.pereira@example.com",
        ],
    ),
    "student": (
        "Visita agendada!",
        [
            "oi",
            "quero alugar em Belo Horizonte perto da UFMG, tenho um gato",
            "até 1.800 por mês",
            "tanto faz",
            "o segundo",
            "aceita pet mesmo?",
            "quero visitar",
            "quinta às 15h",
            "pode ser às 16h",
            "Meu nome é Ana Beatriz Rocha",
            "31 98888-7777 e ana.rocha@example.com",
        ],
    ),
    "luxury": (
        "Visita agendada!",
        [
            "Bom dia. Procuro uma cobertura à venda no Rio, Leblon ou Ipanema, 4 quartos com piscina, "
            "até R$ 8 milhões",
            "o segundo",
            "Qual o endereço? Quantas vagas?",
            "Gostaria de visitar",
            "domingo às 10h",
            "o primeiro",
            "Roberto Almeida Neto - roberto@example.com - 21 99999-1234",
        ],
    ),
    "relocating": (
        "Visit booked!",
        [
            "Hi! I'm relocating to Florianópolis for work and want to rent a furnished apartment",
            "up to 4,500 a month",
            "2 bedrooms",
            "number 1",
            "What is the condo fee?",
            "Yes, I'd like to schedule a visit",
            "Saturday at 2pm",
            "Name: John Michael Smith\nPhone: +55 48 99123-4567\nEmail: john.smith@example.com",
        ],
    ),
}


def run(swarm: SwarmOrchestrator, session: str, messages: list[str]) -> list[SwarmReply]:
    return [swarm.reply(session, message) for message in messages]


def booked_visit(swarm: SwarmOrchestrator, session: str) -> dict[str, Any]:
    """The catalog's answer to the session's book_visit call, read back from the history."""
    history = swarm.history(session)
    ids = {
        call["id"]
        for message in history
        for call in message.get("tool_calls") or []
        if call["function"]["name"] == "book_visit"
    }
    results = [json.loads(m["content"]) for m in history if m.get("tool_call_id") in ids]
    ok = [r for r in results if "error" not in r]
    assert len(ok) == 1, results
    return ok[0]


@pytest.mark.parametrize("name", list(JOURNEYS))
def test_journey_ends_with_a_booked_visit(name: str, catalog: CatalogClient) -> None:
    events: list[SwarmEvent] = []
    swarm = SwarmOrchestrator(catalog, RuleBasedBrain(), observer=events.append)
    marker, messages = JOURNEYS[name]
    replies = run(swarm, f"journey-{name}", messages)
    final = replies[-1]
    assert final.text.startswith(marker), "\n---\n".join(r.text for r in replies)
    assert final.agent == "agendamento"
    visit = booked_visit(swarm, f"journey-{name}")
    assert visit["code"] in final.text and re.fullmatch(r"VIS-[A-Z0-9]{6}", visit["code"])
    stored = catalog.get_visit(visit["id"])
    assert (stored["code"], stored["status"]) == (visit["code"], "scheduled")
    listing = catalog.get_property(stored["property_id"])
    assert listing["title"] in final.text and listing["neighbourhood"] in final.text
    day = stored["scheduled_at"][8:10] + "/" + stored["scheduled_at"][5:7]
    assert day in final.text
    hops = [(e.from_agent, e.to_agent) for e in events if isinstance(e, Handoff)]
    assert hops == [("triagem", "busca"), ("busca", "imovel"), ("imovel", "agendamento")]


def test_journey_specifics(catalog: CatalogClient) -> None:
    swarm = SwarmOrchestrator(catalog, RuleBasedBrain())
    family = run(swarm, "spec-family", JOURNEYS["family"][1][:6])
    assert "comprar ou alugar" in family[0].text and "cidade" in family[0].text
    assert "orçamento" in family[1].text and "quartos" in family[2].text
    lines = [line for line in family[3].text.splitlines() if re.match(r"\d\) ", line)]
    assert 1 <= len(lines) <= 3
    assert all(("Água Verde" in line or "Portão" in line) and "— 3 quartos —" in line for line in lines)
    prices = [int(re.search(r"R\$ ([\d.]+)", line).group(1).replace(".", "")) for line in lines]
    assert prices == sorted(prices) and max(prices) <= 650_000
    chosen = int(re.search(r"#(\d+)", lines[0]).group(1))
    listing = catalog.get_property(chosen)
    fee = f"R$ {listing['condo_fee']:,}".replace(",", ".")
    assert fee in family[5].text and "IPTU" in family[5].text
    student = run(swarm, "spec-student", JOURNEYS["student"][1][:6])
    pick = int(re.search(r"#(\d+)", student[4].text).group(1))
    assert catalog.get_property(pick)["neighbourhood"] == "Pampulha"
    assert student[5].text.startswith("Sim, aceita pets.")
    luxury = run(swarm, "spec-luxury", JOURNEYS["luxury"][1][:5])
    assert "cobertura" in luxury[0].text.lower() and "4 quartos" in luxury[0].text
    assert luxury[4].text.startswith("Não fazemos visitas aos domingos. Horários disponíveis:")
    english = run(swarm, "spec-en", JOURNEYS["relocating"][1][:5])
    assert "budget" in english[0].text and "bedrooms" in english[1].text
    assert "Furnished: yes" in english[3].text and "condo fee is R$" in english[4].text


def test_handoffs_between_all_four_agents(catalog: CatalogClient) -> None:
    events: list[SwarmEvent] = []
    swarm = SwarmOrchestrator(catalog, RuleBasedBrain(), observer=events.append)
    run(
        swarm,
        "hops",
        [
            "Quero comprar um apartamento em Curitiba até R$ 650 mil com 3 quartos",
            "o primeiro",
            "quero agendar uma visita",
            "antes, qual o IPTU?",  # agendamento -> imovel
            "quero ver outros no Batel até 900 mil",  # imovel -> busca
        ],
    )
    hops = {(e.from_agent, e.to_agent) for e in events if isinstance(e, Handoff)}
    assert hops == {
        ("triagem", "busca"),
        ("busca", "imovel"),
        ("imovel", "agendamento"),
        ("agendamento", "imovel"),
        ("imovel", "busca"),
    }
    assert swarm.active_agent("hops") == "busca"


def _to_visit_step(swarm: SwarmOrchestrator, session: str, pick: str) -> int:
    replies = run(
        swarm,
        session,
        ["Quero comprar um apartamento em Porto Alegre até R$ 2 milhões com 2 quartos", pick, "sim"],
    )
    assert replies[-1].agent == "agendamento"
    return int(re.search(r"#(\d+)", replies[1].text).group(1))


def test_taken_slot_leads_to_alternatives(catalog: CatalogClient) -> None:
    swarm = SwarmOrchestrator(catalog, RuleBasedBrain())
    property_id = _to_visit_step(swarm, "taken", "o terceiro")
    free = catalog.availability(property_id, _next_weekday_iso(catalog, property_id))
    day, hour = free["date"], free["slots"][1]
    catalog.book_visit(property_id, f"{day}T{hour}", "Outra Pessoa", "+5511999990000", "outra@example.com")
    dd_mm = f"{day[8:10]}/{day[5:7]}"
    text = swarm.reply("taken", f"{dd_mm} às {int(hour[:2])}h").text
    assert "não está disponível" in text and "Horários disponíveis:" in text
    offered = re.findall(r"(\d\d/\d\d) às (\d{1,2})h", text.split("Horários disponíveis:")[1])
    assert len(offered) == 3 and (dd_mm, str(int(hour[:2]))) not in offered
    assert "nome completo" in swarm.reply("taken", "o primeiro").text
    booked = swarm.reply(
        "taken", "Nome: Paula Regina Costa\nTelefone: 51 98765-1234\nE-mail: paula@example.com"
    )
    assert (
        booked.text.startswith("Visita agendada!") and f"{offered[0][0]} às {offered[0][1]}h" in booked.text
    )


def test_slot_taken_at_booking_time_offers_the_catalogs_alternatives(catalog: CatalogClient) -> None:
    swarm = SwarmOrchestrator(catalog, RuleBasedBrain())
    property_id = _to_visit_step(swarm, "race", "o segundo")
    assert "nome completo" in swarm.reply("race", "sábado às 15h").text
    saturday = re.search(r"(\d\d)/(\d\d)", swarm.history("race")[-1]["content"])
    assert saturday is not None
    day = next(d for d in _next_days() if d.endswith(f"-{saturday.group(2)}-{saturday.group(1)}"))
    catalog.book_visit(property_id, f"{day}T15:00", "Rival Silva", "+5511999990001", "rival@example.com")
    race = swarm.reply("race", "Nome: Lucas Martins Ferreira, 51 99999-2222, lucas@example.com")
    assert race.tool_calls == ["book_visit"]
    assert race.text.startswith(
        "Esse horário acabou de ser reservado por outra pessoa. Horários disponíveis:"
    )
    done = swarm.reply("race", "o primeiro")
    assert done.tool_calls == ["book_visit"] and done.text.startswith("Visita agendada!")


def _next_days() -> list[str]:
    from datetime import timedelta

    from convoload_demo.realestate.swarm.rules import sao_paulo_now

    today = sao_paulo_now().date()
    return [(today + timedelta(days=n)).isoformat() for n in range(1, 9)]


def _next_weekday_iso(catalog: CatalogClient, property_id: int) -> str:
    """The first day after today with at least 5 free slots (never a Sunday)."""
    for day in _next_days():
        if len(catalog.availability(property_id, day)["slots"]) >= 5:
            return day
    raise AssertionError("no open day in the next week")
