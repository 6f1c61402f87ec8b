"""Goal detectors read a reply's messages, so a link or a phrase cut across two of them still counts."""

import pytest

from convoload.conversation.goals import CallableGoal, LinkGoal, RegexGoal, build_goal, mend, reply_views

LINK = "https://pay.example.com/pix/faulty-00042"


def test_one_message_is_read_as_it_is():
    assert LinkGoal()(f"Pague pelo PIX: {LINK}.").evidence == LINK  # sentence punctuation is not the link
    assert LinkGoal()(["Pague pelo PIX: " + LINK]).evidence == LINK
    assert LinkGoal()("Qual a data da visita?") is None
    assert reply_views(["only"]) == ["only"]


@pytest.mark.parametrize(
    "messages",
    [
        pytest.param(
            ["Tudo certo! Pague pelo PIX: http", "s://pay.example.com/pix/faulty-00042"], id="scheme"
        ),
        pytest.param(["Pague pelo PIX:http", "s://pay.example.com/pix/faulty-00042"], id="no-space"),
        pytest.param(["Pague: ht", "tps://pay.example.com/pix/faulty-00042"], id="early-in-scheme"),
        pytest.param(["Pague: https://", "pay.example.com/pix/faulty-00042"], id="after-scheme"),
        pytest.param(["Pague: https://pay.exa", "mple.com/pix/faulty-00042"], id="host"),
        pytest.param(["Pague: https://pay.example.com/pix/fau", "lty-00042. Obrigado!"], id="path"),
        pytest.param(["Pague: https://pay.example.com/pix/faulty-", "00042"], id="digits"),
        pytest.param(["Pague: https://pay.example.com/p", "ix/fau", "lty-00042"], id="three-pieces"),
    ],
)
def test_a_link_cut_across_messages_is_put_back_whole(messages):
    hit = LinkGoal()(messages)
    assert hit is not None and hit.evidence == LINK
    pattern = LinkGoal(r"pay\.example\.com/pix/faulty-\d{5}")(messages)
    assert pattern is not None and pattern.evidence == LINK
    assert RegexGoal(r"faulty-\d{5}")(messages) is not None


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Obrigado!", "a word starting the next message"),
        ("2. Envie o comprovante", "a list number"),
        ("🎉 Aproveite o parque", "an emoji"),
        ("(PIX) vale por 30 minutos", "a parenthesis"),
        ("Ótimo passeio!", "a word with an accent"),
    ],
)
def test_a_whole_link_keeps_the_next_message_off_it(first, second):
    # Joined without a separator, `...faulty-00042Obrigado!` would be a link too: it is not the link.
    hit = LinkGoal()([f"Pague pelo PIX: {LINK}", first])
    assert hit is not None and hit.evidence == LINK, second
    assert mend([f"Pague pelo PIX: {LINK}", first]) == f"Pague pelo PIX: {LINK}\n\n{first}"


def test_messages_that_only_look_joined_are_no_link():
    assert LinkGoal()(["Pague via http", "Obrigado"]) is None  # `httpObrigado` is no link
    assert LinkGoal()(["https", "é o protocolo"]) is None
    assert LinkGoal()(["sem link", "nenhum"]) is None


def test_a_regex_goal_cut_inside_its_phrase():
    hit = RegexGoal("visita agendada|visit booked")(["Pronto! Visita agen", "dada para sábado às 10h."])
    assert hit is not None and hit.evidence == "Visita agendada"
    assert RegexGoal("visita agendada")(["Qual dia prefere", "para a visita?"]) is None


def test_a_regex_anchored_to_a_message_matches_that_message_alone():
    assert RegexGoal(r"^Pedido \d+$")(["Resumo da compra", "Pedido 123"]).evidence == "Pedido 123"
    assert RegexGoal(r"^Pedido \d+$")("Resumo da compra\n\nPedido 123") is None  # one text, as before


def test_a_regex_evidence_is_clipped():
    assert len(RegexGoal(r"x+")("x" * 5000).evidence) == 200


def test_a_python_goal_is_called_with_each_view_until_one_is_true():
    seen: list[str] = []

    def wants_link(text: str) -> bool:
        seen.append(text)
        return "https://pay" in text

    hit = CallableGoal(wants_link, "wants_link")(["Pague: http", "s://pay.example.com/x"])
    assert hit is not None and hit.evidence is None
    assert seen == [
        "Pague: http\n\ns://pay.example.com/x",
        "Pague: http",
        "s://pay.example.com/x",
        "Pague: https://pay.example.com/x",
    ]
    seen.clear()
    assert CallableGoal(wants_link, "wants_link")(["Oi", "Tudo bem?"]) is None and len(seen) == 4


def test_a_python_goal_returning_a_string_gives_the_evidence():
    def order(text: str) -> str | None:
        return "Pedido 7" if "Pedido 7" in text else None

    assert CallableGoal(order, "order")(["Seu Pedido 7", "foi pago"]).evidence == "Pedido 7"


def test_build_goal_gives_every_kind():
    assert build_goal("link")("veja https://x.example/a").evidence == "https://x.example/a"
    assert build_goal("regex", "pago")(["foi pa", "go"]).evidence == "pago"
    python = build_goal("python", function="tests.test_run:has_order")
    assert python(["Pedido 1: http", "s://pay.example.com/pix/1"]) is not None
