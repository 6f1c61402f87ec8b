"""The rule brain's parsers, without servers: criteria, listing choice, dates, visitor data, language."""

from __future__ import annotations

from datetime import date

import pytest

from convoload_demo.realestate.swarm.rules.contact import parse_contact
from convoload_demo.realestate.swarm.rules.criteria import parse_amount, parse_criteria, parse_selection
from convoload_demo.realestate.swarm.rules.text import detect_language
from convoload_demo.realestate.swarm.rules.when import parse_when

TODAY = date(2025, 11, 19)  # a Wednesday


@pytest.mark.parametrize(
    ("text", "budget"),
    [
        ("até R$ 650 mil", 650_000),
        ("até 1.800 por mês", 1_800),
        ("R$ 8 milhões", 8_000_000),
        ("up to 4,500", 4_500),
        ("no máximo R$ 1,2 milhão", 1_200_000),
        ("orçamento de 650.000,00", 650_000),
        ("budget 700k", 700_000),
    ],
)
def test_budget_in_free_text(text: str, budget: int) -> None:
    assert parse_criteria(text).price_max == budget


def test_bare_numbers_are_a_budget_only_when_one_was_asked_for() -> None:
    assert parse_criteria("650000").price_max is None
    assert parse_criteria("650000", pending="budget").price_max == 650_000
    assert parse_criteria("3", pending="bedrooms").bedrooms_min == 3
    assert parse_criteria("3").bedrooms_min is None


def test_full_family_request() -> None:
    c = parse_criteria(
        "Queremos comprar um apartamento de 3 quartos em Curitiba, no Água Verde ou Portão, até R$ 650 mil"
    )
    assert (c.transaction_type, c.city, c.property_types) == ("sale", "Curitiba", ["apartment"])
    assert c.neighbourhoods == ["Água Verde", "Portão"]
    assert (c.bedrooms_min, c.price_max) == (3, 650_000)


def test_rent_near_a_landmark_with_a_cat() -> None:
    c = parse_criteria("quero alugar uma quitinete perto da UFMG, tenho um gato")
    assert (c.transaction_type, c.city, c.neighbourhoods) == ("rent", "Belo Horizonte", ["Pampulha"])
    assert c.property_types == ["studio"]
    assert c.pet_friendly is True


def test_luxury_request_with_amenities_and_implied_city() -> None:
    c = parse_criteria(
        "Procuro cobertura no Leblon ou Ipanema, 4 quartos, piscina e academia, até R$ 8 milhões"
    )
    assert c.city == "Rio de Janeiro"
    assert c.neighbourhoods == ["Leblon", "Ipanema"]
    assert (c.property_types, c.bedrooms_min, c.price_max) == (["penthouse"], 4, 8_000_000)
    assert c.amenities == ["gym", "pool"]
    assert c.transaction_type is None


def test_english_request() -> None:
    c = parse_criteria("I want to rent a furnished 2 bedrooms apartment in Floripa, up to 4,500 a month")
    assert (c.transaction_type, c.city, c.furnished, c.bedrooms_min, c.price_max) == (
        "rent",
        "Florianópolis",
        True,
        2,
        4_500,
    )


@pytest.mark.parametrize(
    ("text", "types"),
    [
        ("uma casa", ["house"]),
        ("kitnet", ["studio"]),
        ("terreno", ["land"]),
        ("sala comercial", ["commercial"]),
        ("studio ou apartamento", ["apartment", "studio"]),
    ],
)
def test_property_types(text: str, types: list[str]) -> None:
    assert sorted(parse_criteria(text).property_types) == types


def test_merge_reports_changes_and_adds_amenities() -> None:
    c = parse_criteria("comprar em Curitiba com piscina")
    assert c.merge(parse_criteria("com academia")) is True
    assert c.amenities == ["gym", "pool"]
    assert c.merge(parse_criteria("ok")) is False


def test_parse_amount_separators() -> None:
    assert parse_amount("1.800", None) == 1800
    assert parse_amount("4,500", None) == 4500
    assert parse_amount("1,5", "milhao") == 1_500_000


LISTED = [{"id": 351}, {"id": 451}, {"id": 501}]


@pytest.mark.parametrize(
    ("text", "chosen"),
    [
        ("quero saber mais do 1", 351),
        ("o primeiro", 351),
        ("o segundo", 451),
        ("number 3", 501),
        ("#451", 451),
        ("código 501", 501),
        ("#2", 451),
        ("o último", 501),
    ],
)
def test_selection(text: str, chosen: int) -> None:
    picked = parse_selection(text, LISTED)
    assert picked is not None and picked["id"] == chosen


def test_selection_of_an_unlisted_code_and_nothing() -> None:
    assert parse_selection("#9999", LISTED) == {"id": 9999}
    assert parse_selection("quero mais opções", LISTED) is None
    assert parse_selection("o 7", LISTED) is None


@pytest.mark.parametrize(
    ("text", "day", "hour"),
    [
        ("sábado às 10h", date(2025, 11, 22), 10),
        ("amanhã às 15h", date(2025, 11, 20), 15),
        ("depois de amanhã às 9h", date(2025, 11, 21), 9),
        ("próxima terça às 11h", date(2025, 11, 25), 11),
        ("25/11 às 14h", date(2025, 11, 25), 14),
        ("10/01 às 9h", date(2026, 1, 10), 9),
        ("Monday at 9am", date(2025, 11, 24), 9),
        ("tomorrow at 3pm", date(2025, 11, 20), 15),
        ("dia 28 às 16:00", date(2025, 11, 28), 16),
        ("quarta-feira às 3 da tarde", date(2025, 11, 26), 15),
        ("hoje ao meio-dia", date(2025, 11, 19), 12),
        ("25 de novembro às 10h", date(2025, 11, 25), 10),
    ],
)
def test_dates_relative_to_today(text: str, day: date, hour: int) -> None:
    when = parse_when(text, TODAY)
    assert (when.day, when.hour) == (day, hour)


def test_time_only_and_day_only() -> None:
    assert parse_when("pode ser às 11h", TODAY).day is None
    assert parse_when("pode ser às 11h", TODAY).hour == 11
    assert parse_when("sexta", TODAY).hour is None
    assert parse_when("sexta", TODAY).day == date(2025, 11, 21)
    assert parse_when("10h30", TODAY).minute == 30
    assert parse_when("sim", TODAY).empty


def test_contact_with_labels() -> None:
    c = parse_contact("Nome: Mariana Souza Lima\nTelefone: (41) 99876-5432\nE-mail: mariana.lima@example.com")
    assert (c.name, c.phone, c.email) == ("Mariana Souza Lima", "41998765432", "mariana.lima@example.com")


def test_contact_in_one_line_without_labels() -> None:
    c = parse_contact("Carlos Eduardo Pereira, +55 11 98765-4321, carlos.pereira@example.com")
    assert (c.name, c.phone, c.email) == (
        "Carlos Eduardo Pereira",
        "+5511987654321",
        "carlos.pereira@example.com",
    )


def test_contact_parts() -> None:
    assert parse_contact("Meu nome é Ana Beatriz da Rocha").name == "Ana Beatriz da Rocha"
    partial = parse_contact("31 98888-7777")
    assert partial.missing() == ["name", "email"]
    assert parse_contact("Sim, claro").missing() == ["name", "phone", "email"]


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Oi, boa tarde!", "pt"),
        ("Hi! I'm relocating to Florianópolis and want to rent", "en"),
        ("Quero comprar um apartamento", "pt"),
        ("Hello", "en"),
    ],
)
def test_language(text: str, lang: str) -> None:
    assert detect_language(text) == lang
