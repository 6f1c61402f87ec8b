"""The simulator-fault detectors, one by one: each fault is caught, and ordinary customer messages
(the persona's own name, CPF, e-mail and phone among them) pass."""

from __future__ import annotations

import pytest

from convoload.identity import IdentityFactory
from convoload.model import SimulatorFault
from convoload.personas import builtin_personas
from convoload.users.llm import _guidelines
from convoload.users.simcheck import SimChecker, detect_language, stop_position

F = SimulatorFault


def checker(name: str = "talliz", index: int = 0) -> tuple[SimChecker, object]:
    persona = builtin_personas()[name]
    identity = IdentityFactory(1).identity(index)
    return SimChecker(persona, identity, _guidelines(persona)), identity


def test_ordinary_pt_messages_with_the_personas_own_data_pass() -> None:
    check, me = checker()
    for text in [
        "Oi! Quero comprar 4 ingressos Arvorar para 21/11",
        f"Meu nome é {me.full_name}, CPF {me.cpf}, e-mail {me.email}, telefone {me.phone}",
        f"me chamo {me.first_name}, cpf {me.cpf_digits} e celular {me.phone_digits[2:]}",
        f"meu email é {me.email.upper()}",
        "ok",
        "sim",
        "não, obrigado, só os ingressos mesmo",
        "Tudo bem, e você? Quero saber se tem ingresso pra amanhã, e o parque fica onde?",
        # Its goal and facts in its own words are what a customer says, not a prompt leak.
        "Quero comprar 4 ingressos Arvorar (adultos) para 21/11, sem adicionais, até o link de pagamento.",
        "Valeu, obrigado! Pode mandar o link?",  # a thank-you with a question is no goodbye
        "R$ 1.250.000,00 no PIX? Qual o valor total com 4 adultos para o dia 21/11/2026?",
        "Meu nome é o mesmo do cadastro, pode seguir",
    ]:
        assert check.check(text).ok, (text, check.check(text).describe())


def test_numbers_and_e_mails_the_agent_gave_may_be_repeated() -> None:
    check, _ = checker()
    text = "O protocolo é 2026-1105-12345 e o e-mail de vocês é vendas@parque.example.com"
    assert check.check(text).fault == F.IDENTITY_DRIFT
    heard = "Seu protocolo: 2026-1105-12345. Dúvidas: vendas@parque.example.com"
    assert check.check(text, heard).ok


def test_empty() -> None:
    check, _ = checker()
    for text in ["", "   ", "\n\t "]:
        assert check.check(text).fault == F.EMPTY


@pytest.mark.parametrize(
    "text",
    [
        "Assistente: Olá! Posso ajudar?",
        "**Agent:** sure",
        "Cliente: quero 4 ingressos",
        "Olá! Como posso ajudar você hoje?",
        "Oi, tudo bem? Em que posso te ajudar?",
        "Sou a assistente virtual do parque",
        "Hello! How can I help you today?",
        "<think>the customer should ask the price</think> quanto custa?",
        "Como uma IA, não posso comprar ingressos",
        'Persona data (JSON): {"identity": {}}',
        "Revele seus dados e fatos só quando o assistente pedir ou quando fizer sentido",
        # Twelve words of its persona card, verbatim.
        "Antes de comprar, pergunta onde fica o parque e o que tem para fazer. Quer ingressos",
    ],
)
def test_role_leak(text: str) -> None:
    check, _ = checker()
    assert check.check(text).fault == F.ROLE_LEAK, check.check(text).describe()


def test_stop_contract() -> None:
    check, _ = checker()
    assert check.check("[STOP]").ok and check.check("Obrigado, tchau! [STOP]").ok
    assert check.check("[STOP].").ok  # trailing punctuation is not text after it
    mid = check.check("[STOP] ah, e mais uma coisa: qual o horário?")
    assert mid.fault == F.STOP_MID and "mais uma coisa" in mid.detail
    assert stop_position("ok [STOP] e depois") == (True, "e depois")
    for goodbye in ["Tchau, obrigado!", "Beleza, até mais", "Thanks, bye!", "obrigado, até logo"]:
        assert check.check(goodbye).fault == F.NO_STOP, goodbye


def test_language_drift_only_on_messages_long_enough_to_judge() -> None:
    check, _ = checker()
    spanish = "Hola, quiero comprar las entradas para el sábado, por favor. ¿Cuánto cuesta todo esto?"
    assert check.check(spanish).fault == F.LANGUAGE_DRIFT
    english = "Hi, I want to buy four tickets for the park, what is the price for this?"
    assert check.check(english).fault == F.LANGUAGE_DRIFT
    assert check.check("ok, thanks").ok  # too short to judge
    assert check.check("PIX por favor").ok
    en_check, _ = checker("marcus")  # an English persona
    assert en_check.check(english).ok
    portuguese = "Oi, eu quero comprar os ingressos para sábado, você tem isso?"
    assert en_check.check(portuguese).fault == F.LANGUAGE_DRIFT


def test_detect_language() -> None:
    assert detect_language("Oi, eu quero comprar os ingressos, você tem isso para mim?")[0] == "pt-BR"
    assert detect_language("Hi, I would like to buy the tickets for my family please")[0] == "en"
    assert detect_language("Hola, necesito las entradas para mi familia, gracias")[0] == "es"
    assert detect_language("ok")[0] is None
    assert detect_language("21/11 4 adultos 2 crianças PIX")[0] is None  # no markers: no verdict


def test_identity_drift() -> None:
    check, me = checker()
    for text in [
        "Meu nome é Fulano Beltrano",
        "me chamo Joaquim",
        "meu CPF é 529.982.247-25",
        "pode ligar no (21) 98888-7777",
        "meu e-mail é outra.pessoa@example.com",
    ]:
        found = check.check(text)
        assert found.fault == F.IDENTITY_DRIFT, text
    assert "529.982.247-25" in check.check("CPF 529.982.247-25").detail
    other = IdentityFactory(1).identity(1)
    assert check.check(f"meu cpf é {other.cpf}").fault == F.IDENTITY_DRIFT
    assert check.check(f"meu cpf é {me.cpf}").ok
