"""Unit tests of the rule-based ticket assistant, driven by fixed customer messages."""

from __future__ import annotations

import re
import threading
from datetime import date

import pytest
from validate_docbr import CPF

from convoload_demo.tickets import AssistantReply, TicketAssistant

URL_RE = re.compile(r"https?://|www\.", re.I)
LINK_RE = re.compile(r"https://pay\.example\.com/(pix|card)/([A-Za-z0-9-]+)")


class Chat:
    """One customer talking to an assistant; keeps every reply for later checks."""

    def __init__(self, assistant: TicketAssistant, session_id: str) -> None:
        self.assistant = assistant
        self.session_id = session_id
        self.replies: list[AssistantReply] = []

    def say(self, text: str) -> AssistantReply:
        reply = self.assistant.reply(self.session_id, text)
        assert reply.messages and all(isinstance(m, str) and m for m in reply.messages)
        self.replies.append(reply)
        return reply

    def assert_no_url_before_link(self) -> None:
        """No reply may contain a URL, except the final link (and the "already done" reminders)."""
        for reply in self.replies:
            if not reply.done:
                assert not URL_RE.search(reply.text), reply.text
                assert "http" not in reply.text.lower()


def low(reply: AssistantReply) -> str:
    return reply.text.lower()


@pytest.fixture
def assistant() -> TicketAssistant:
    return TicketAssistant()


@pytest.fixture
def cpf() -> str:
    return CPF().generate(mask=True)


def test_journey_a_optin_yes_cabin_pix(assistant: TicketAssistant, cpf: str) -> None:
    chat = Chat(assistant, "cliente-a")
    r = chat.say("Oi! Quero comprar ingressos")
    assert r.agent == "atendimento" and not r.done
    assert "aceita" in low(r) and "promoções" in low(r)

    r = chat.say("sim")
    assert r.agent == "vendas"
    assert "data" in low(r)

    r = chat.say("11/10/2026")
    assert "11/10" in r.text and "quantas pessoas" in low(r)

    r = chat.say("2 adultos e 2 crianças")
    assert r.agent == "vendas"
    assert "R$ 180,00" in r.text  # subtotal: 2 x 60 + 2 x 30
    for word in ("cabana", "experiência", "adicionar"):
        assert word in low(r)

    r = chat.say("quero a cabana")
    for word in ("nome completo", "cpf", "telefone", "e-mail"):
        assert word in low(r)

    r = chat.say(f"Maria Oliveira\n{cpf}\n(48) 99876-5432\nmaria.oliveira@example.com")
    assert r.agent == "pagamento"
    assert "PIX" in r.text and "cartão" in r.text and "pagar" in r.text

    r = chat.say("pix")
    assert r.done and r.agent == "pagamento"
    match = LINK_RE.search(r.text)
    assert match and match.group(1) == "pix"
    assert "Total: R$ 460,00" in r.text  # 180 + one cabin night (280)
    assert "Cabana na Floresta" in r.text and "11/10/2026" in r.text
    chat.assert_no_url_before_link()


def test_journey_b_closed_date_arvorar_refuses_upsell(assistant: TicketAssistant, cpf: str) -> None:
    chat = Chat(assistant, "cliente-b")
    chat.say("Olá, boa tarde")

    r = chat.say("Não")
    assert r.agent == "atendimento"
    assert "como posso ajudar" in low(r)

    r = chat.say("Onde fica o parque?")
    assert r.agent == "atendimento"
    assert "Urubici" in r.text and "Estrada do Vale" in r.text

    r = chat.say("E o que tem pra fazer aí?")
    assert r.agent == "atendimento"
    assert "trilhas" in low(r) and "arvorar" in low(r) and "tirolesa" in low(r)

    r = chat.say("Quero o Arvorar para 20/11")
    assert r.agent == "vendas"
    assert "fechado" in low(r) and "posso reservar para 21/11?" in low(r)

    r = chat.say("pode ser")
    assert "21/11" in r.text and "quantas pessoas" in low(r)

    r = chat.say("4 adultos")
    assert "Arvorar" in r.text and "R$ 480,00" in r.text  # 4 x 120

    r = chat.say("Não, obrigado")
    assert "nome completo" in low(r)

    r = chat.say(f"Meu nome é João Pereira, CPF {cpf}, telefone 11 98888-7777, email joao@example.com")
    assert r.agent == "pagamento"

    r = chat.say("Pix")
    assert r.done
    assert LINK_RE.search(r.text)
    assert "Total: R$ 480,00" in r.text and "21/11/2026" in r.text
    chat.assert_no_url_before_link()


def test_journey_c_week_availability_mixed_categories(assistant: TicketAssistant, cpf: str) -> None:
    chat = Chat(assistant, "cliente-c")
    chat.say("Oi, boa noite")
    chat.say("aceito")

    r = chat.say("Tem disponibilidade na segunda semana de novembro?")
    assert r.agent == "vendas"
    assert "temos disponibilidade em" in low(r) and "qual data você prefere?" in low(r)
    offered = re.findall(r"\d{2}/11", r.text)
    assert offered == [f"{d:02d}/11" for d in range(8, 15)]

    r = chat.say("Pode ser dia 12")
    assert "12/11/2026" in r.text and "quantas pessoas" in low(r)

    r = chat.say("1 adulto, 1 gestante e 2 idosos")
    assert "R$ 150,00" in r.text  # 60 + 30 + 2 x 30

    r = chat.say("não, só os ingressos")
    assert "cpf" in low(r)

    digits = re.sub(r"\D", "", cpf)  # unformatted CPF this time
    r = chat.say(f"Ana Souza, {digits}, 48999998888, ana@example.com")
    assert r.agent == "pagamento"

    r = chat.say("cartão")
    assert r.done
    match = LINK_RE.search(r.text)
    assert match and match.group(1) == "card"
    assert "Total: R$ 150,00" in r.text
    chat.assert_no_url_before_link()


def test_english_journey(assistant: TicketAssistant, cpf: str) -> None:
    chat = Chat(assistant, "tourist")
    r = chat.say("Hi! I'd like to buy tickets please")
    assert "accept" in low(r) and "promotions" in low(r)

    r = chat.say("yes")
    assert "date" in low(r) and r.agent == "vendas"

    r = chat.say("October 11th")
    assert "11/10/2026" in r.text and "how many" in low(r)

    r = chat.say("2 adults and 1 child")
    assert all(word in low(r) for word in ("cabin", "experience", "add"))
    assert "R$ 150.00" in r.text

    r = chat.say("add the zipline please")
    assert all(word in low(r) for word in ("full name", "cpf", "phone", "e-mail"))

    r = chat.say(f"My name is John Smith, CPF {cpf}, phone +55 48 99999-8888, e-mail john@example.com")
    assert "How would you like to pay" in r.text and r.agent == "pagamento"

    r = chat.say("card")
    assert r.done
    assert "/card/" in r.text
    assert "Total: R$ 360.00" in r.text  # 150 + zipline for 3 people (210)
    chat.assert_no_url_before_link()


def test_english_closed_date_and_week(assistant: TicketAssistant) -> None:
    chat = Chat(assistant, "tourist-2")
    chat.say("Hello")
    r = chat.say("no thanks")
    assert "how can i help" in low(r)
    r = chat.say("I want tickets for the second week of November")
    assert "we have availability on" in low(r) and "which date do you prefer?" in low(r)
    r = chat.say("20/11")  # outside the list and closed anyway
    assert "closed" in low(r) and "shall i book 21/11 instead?" in low(r)
    r = chat.say("ok")
    assert "21/11" in r.text and "how many" in low(r)


def test_invalid_cpf_is_asked_again(assistant: TicketAssistant, cpf: str) -> None:
    chat = Chat(assistant, "cpf-errado")
    for text in ("oi", "sim", "ingressos para 11/10", "2 adultos", "só os ingressos"):
        chat.say(text)
    r = chat.say("Carla Dias, CPF 123.456.789-00, carla@example.com, (48) 98888-1234")
    assert "cpf" in low(r) and "inválido" in low(r)
    assert r.agent == "vendas" and not r.done
    assert "nome completo" not in low(r) and "telefone" not in low(r)  # only the CPF is missing

    r = chat.say("11111111111")  # right length, wrong check digits
    assert "inválido" in low(r)

    r = chat.say(f"desculpa, o certo é {cpf}")
    assert r.agent == "pagamento" and "PIX" in r.text


def test_invalid_cpf_english(assistant: TicketAssistant) -> None:
    chat = Chat(assistant, "cpf-en")
    for text in ("hi, I want tickets", "no", "10/10", "one adult", "no thanks"):
        chat.say(text)
    r = chat.say("Bob Stone, cpf 529.982.247-24")
    assert "cpf" in low(r) and "invalid" in low(r)
    assert "phone" in low(r) and "e-mail" in low(r)


def test_several_slots_in_one_message(assistant: TicketAssistant, cpf: str) -> None:
    chat = Chat(assistant, "apressado")
    r = chat.say("Oi, quero 2 ingressos de adulto e 1 de criança pro dia 21/11, quanto custa?")
    assert "R$ 60,00" in r.text  # the price question is answered right away
    assert "aceita" in low(r)

    r = chat.say("sim")  # everything from the first message is remembered
    assert "21/11" in r.text and "R$ 150,00" in r.text and "adicionar" in low(r)

    r = chat.say(
        f"os dois, cabana por 2 noites. Meu nome é Pedro Alves, CPF {cpf}, "
        "telefone (47) 99123-4567, e-mail pedro@example.com, pago no pix"
    )
    assert r.done
    # 150 + 2 nights x 280 + zipline 3 x 70
    assert "Total: R$ 920,00" in r.text


def test_fields_spread_over_messages(assistant: TicketAssistant, cpf: str) -> None:
    chat = Chat(assistant, "aos-poucos")
    for text in ("oi", "não", "quero ingressos", "dia 10 de outubro", "quatro adultos", "dispenso"):
        chat.say(text)
    r = chat.say("me chamo Lucia Ferraz")
    assert "cpf" in low(r) and "telefone" in low(r) and "e-mail" in low(r)
    assert "nome completo" not in low(r)
    r = chat.say(cpf)
    assert "cpf" not in low(r) and "telefone" in low(r)
    r = chat.say("lucia@example.com")
    assert low(r).count("e-mail") == 0 and "telefone" in low(r)
    r = chat.say("+55 (48) 3222-1100")
    assert r.agent == "pagamento"
    r = chat.say("pix")
    assert "Total: R$ 240,00" in r.text


def test_agent_names_follow_the_flow(assistant: TicketAssistant, cpf: str) -> None:
    chat = Chat(assistant, "agentes")
    agents = [
        chat.say(text).agent
        for text in (
            "olá",
            "sim",
            "onde fica?",
            "quero ingressos para 11/10",
            "2 adultos",
            "não",
            f"Rita Lee Jones {cpf} 48999990000 rita@example.com",
            "cartão",
            "valeu!",
        )
    ]
    assert agents == [
        "atendimento",
        "atendimento",
        "atendimento",
        "vendas",
        "vendas",
        "vendas",
        "pagamento",
        "pagamento",
        "pagamento",
    ]


def test_messages_after_done_resend_link(assistant: TicketAssistant, cpf: str) -> None:
    chat = Chat(assistant, "depois")
    for text in ("oi", "sim", "ingressos 11/10", "1 adulto", "não", f"Ana Lima {cpf} 48999990000 a@b.com"):
        chat.say(text)
    final = chat.say("pix")
    link = LINK_RE.search(final.text)
    assert link
    r = chat.say("obrigada!")
    assert r.done and link.group(0) in r.text
    assert "concluído" in low(r)


def test_not_understood_restates_what_is_missing(assistant: TicketAssistant) -> None:
    chat = Chat(assistant, "confuso")
    chat.say("oi")
    chat.say("sim")
    chat.say("quero ingressos")
    r = chat.say("asdfgh")
    assert "não entendi" in low(r) and "data" in low(r)
    chat.say("15/10")
    r = chat.say("hmmm")
    assert "quantas pessoas" in low(r)


def test_optin_must_be_answered_first(assistant: TicketAssistant) -> None:
    chat = Chat(assistant, "pula-optin")
    chat.say("oi")
    r = chat.say("tem vaga dia 20/11?")
    assert "aceita" in low(r)
    r = chat.say("não")  # the date asked before is checked now
    assert "fechado" in low(r) and "21/11" in r.text


def test_location_answer_has_no_url(assistant: TicketAssistant) -> None:
    r = assistant.reply("onde", "Oi! Onde fica o parque? Qual o endereço?")
    assert "Urubici" in r.text and "http" not in r.text.lower()
    r = TicketAssistant().reply("where", "Hello, where is the park located?")
    assert "Urubici" in r.text and "accept" in r.text.lower()


def test_language_is_kept_for_the_session(assistant: TicketAssistant) -> None:
    assert "accept" in assistant.reply("en", "Hi there").text.lower()
    assert "How can I help" in assistant.reply("en", "sim").text  # a Portuguese word does not switch
    assert "aceita" in assistant.reply("pt", "Oi, tudo bem?").text


def test_custom_closed_dates_and_next_open_day() -> None:
    assistant = TicketAssistant(closed_dates={date(2026, 10, 11), date(2026, 10, 12)})
    chat = Chat(assistant, "s")
    chat.say("oi")
    chat.say("sim")
    r = chat.say("ingressos para 11/10")
    assert "fechado" in low(r) and "13/10" in r.text
    r = chat.say("não")
    assert "outra data" in low(r)
    r = chat.say("20/11")  # a default closure does not apply with custom dates
    assert "20/11/2026" in r.text and "quantas pessoas" in low(r)


def test_season_year_is_used_for_dates_without_year() -> None:
    assistant = TicketAssistant(season_year=2030)
    chat = Chat(assistant, "s")
    chat.say("oi")
    chat.say("não")
    r = chat.say("ingressos para 05/03")
    assert "05/03/2030" in r.text


def test_order_id_is_deterministic(cpf: str) -> None:
    def run(session: str) -> str:
        a = TicketAssistant()
        for text in ("oi", "sim", "11/10", "1 adulto", "não", f"Ana Lima, {cpf}, 48999990000, a@b.com"):
            a.reply(session, text)
        match = LINK_RE.search(a.reply(session, "pix").text)
        assert match
        return match.group(2)

    assert run("same") == run("same")
    assert run("same") != run("other")


def test_reset_starts_over(assistant: TicketAssistant) -> None:
    assistant.reply("r", "oi")
    assistant.reply("r", "sim")
    assert assistant.session_count == 1
    assistant.reset("r")
    assert assistant.session_count == 0
    assert "aceita" in assistant.reply("r", "oi").text


def test_concurrent_sessions_do_not_interfere(cpf: str) -> None:
    assistant = TicketAssistant()
    script = ("oi", "sim", "11/10", "2 adultos", "não", f"Ana Lima, {cpf}, 48999990000, a@b.com", "pix")
    results: dict[int, AssistantReply] = {}
    errors: list[BaseException] = []

    def customer(n: int) -> None:
        try:
            for text in script:
                results[n] = assistant.reply(f"c{n}", text)
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=customer, args=(n,)) for n in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=30)
    assert not errors
    assert all(results[n].done and "R$ 120,00" in results[n].text for n in range(16))
    assert assistant.session_count == 16
