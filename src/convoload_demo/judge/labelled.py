"""Writes the labelled sets of `convoload judge calibrate`: labels/tickets.jsonl, labels/realestate.jsonl.

    python -m convoload_demo.judge.labelled [--out FOLDER]

The conversations are real: the bundled agents, run by convoload with their scripted personas. Copies
of them then get one flaw each, edited into the agent's replies (a wrong price, an invented listing,
an early request for a CPF, English replies, a rude or formal tone, no goal), and every conversation
gets a person's label per criterion, written below with the flaw. The committed files are what
calibration reads; this module documents and reproduces them.
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from convoload.model import ConversationRecord

HERE = Path(__file__).resolve().parent
TICKETS_GOOD = {
    "goal_resolved": 5,
    "prices_match_catalog": 1,
    "personal_data_when_needed": 5,
    "whatsapp_tone": 5,
    "customer_language": 5,
}
REALESTATE_GOOD = {
    "goal_resolved": 5,
    "no_invented_listings": 1,
    "personal_data_when_needed": 5,
    "whatsapp_tone": 5,
    "customer_language": 5,
}


class Unchanged(RuntimeError):
    """A flaw found nothing to edit: the agent's replies changed, the flaw must follow them."""


@dataclass
class Flaw:
    id: str
    persona: str
    note: str
    labels: dict[str, int]  # the person's scores that differ from a good conversation's
    edit: Callable[[ConversationRecord], None] | None = None
    variant: int = 0  # which of the persona's runs (0: the first seed's)


def _reply(record: ConversationRecord, contains: str) -> int:
    for i, turn in enumerate(record.turns):
        if turn.reply_text and contains in turn.reply_text:
            return i
    raise Unchanged(f"{record.persona}: no reply contains {contains!r}")


def replace(record: ConversationRecord, old: str, new: str, *, every: bool = False) -> None:
    """Replace text in the agent's replies (the first reply holding it, or every one)."""
    done = False
    for turn in record.turns:
        if turn.reply_text and old in turn.reply_text and (every or not done):
            turn.reply_text = turn.reply_text.replace(old, new)
            turn.reply_messages = [turn.reply_text]
            done = True
    if not done:
        raise Unchanged(f"{record.persona}: no reply contains {old!r}")


def rewrite(record: ConversationRecord, contains: str, new: str) -> None:
    """The whole reply holding `contains` becomes `new`."""
    turn = record.turns[_reply(record, contains)]
    turn.reply_text = new
    turn.reply_messages = [new]


def cut_after(record: ConversationRecord, contains: str, last_reply: str | None = None) -> None:
    """End the conversation at the reply holding `contains` (replaced by `last_reply` when given)."""
    index = _reply(record, contains)
    del record.turns[index + 1 :]
    if last_reply is not None:
        rewrite(record, contains, last_reply)
    for turn in record.turns:
        turn.goal_reached = False
        turn.goal_evidence = None


# -- the tickets agent ------------------------------------------------------------------------------


def _wrong_unit(r: ConversationRecord) -> None:
    replace(r, "2 × Adulto (R$ 60,00) = R$ 120,00", "2 × Adulto (R$ 65,00) = R$ 130,00", every=True)
    replace(r, "Subtotal: R$ 180,00", "Subtotal: R$ 190,00")
    replace(r, "Total: R$ 460,00", "Total: R$ 470,00")


def _english(r: ConversationRecord) -> None:
    rewrite(
        r,
        "Quantas pessoas vão",
        "Great, 08/11/2026 is available ✅\n\nHow many people are going, and in which categories? "
        "(adult, child 4 to 11, senior 60+, pregnant woman, PCD)",
    )
    rewrite(
        r,
        "Para finalizar a reserva",
        "All right, just the tickets 👍\n\nTo finish the booking, send me your "
        "full name, CPF, phone and e-mail 📝",
    )
    rewrite(r, "Como prefere pagar", "All set, thanks! How would you like to pay: PIX or credit card?")


TICKETS: list[Flaw] = [
    Flaw("good-kataryna", "Kataryna", "a good conversation: opt-in, tickets, cabin, PIX link", {}),
    Flaw("good-talliz", "Talliz", "a good conversation: closed date, next date offered, Arvorar tickets", {}),
    Flaw("good-edman", "Edman", "a good conversation: a week's dates offered, reduced prices", {}),
    Flaw("good-kataryna-2", "Kataryna", "a good conversation (another customer)", {}, variant=1),
    Flaw("good-talliz-2", "Talliz", "a good conversation (another customer)", {}, variant=1),
    Flaw("good-edman-2", "Edman", "a good conversation (another customer)", {}, variant=1),
    Flaw(
        "wrong-unit-price",
        "Kataryna",
        "adult tickets at R$ 65,00 instead of R$ 60,00, in the summary and the order",
        {"prices_match_catalog": 0, "goal_resolved": 4},
        _wrong_unit,
    ),
    Flaw(
        "wrong-total",
        "Edman",
        "the order's total is R$ 180,00 while its lines add up to R$ 150,00",
        {"prices_match_catalog": 0, "goal_resolved": 4},
        lambda r: replace(r, "Total: R$ 150,00", "Total: R$ 180,00"),
    ),
    Flaw(
        "invented-cabin-price",
        "Talliz",
        "the cabin offered at R$ 250,00 a night (the park charges R$ 280,00)",
        {"prices_match_catalog": 0},
        lambda r: replace(r, "Cabana na Floresta (R$ 280,00/noite)", "Cabana na Floresta (R$ 250,00/noite)"),
    ),
    Flaw(
        "early-cpf",
        "Kataryna",
        "asks for full name and CPF in its greeting, before anything is chosen",
        {"personal_data_when_needed": 1},
        lambda r: replace(
            r,
            "Antes de começar: você aceita",
            "Para começar, me envie seu nome completo e CPF, por favor 📝 E você aceita",
        ),
    ),
    Flaw(
        "early-phone-cpf",
        "Talliz",
        "asks for CPF and phone after telling where the park is",
        {"personal_data_when_needed": 1},
        lambda r: replace(
            r,
            "Abrimos todos os dias, das 9h às 17h.\n\nPosso ajudar",
            "Abrimos todos os dias, das 9h às 17h.\n\nAntes de continuar, me passe seu CPF e telefone?"
            "\n\nPosso ajudar",
        ),
    ),
    Flaw(
        "english-replies",
        "Edman",
        "three replies in English to a customer writing in Portuguese",
        {"customer_language": 1},
        _english,
    ),
    Flaw(
        "one-english-reply",
        "Kataryna",
        "one reply in English to a customer writing in Portuguese",
        {"customer_language": 2},
        lambda r: rewrite(r, "Como prefere pagar", "All set! How would you like to pay: PIX or credit card?"),
    ),
    Flaw(
        "rude",
        "Talliz",
        "scolds the customer for asking about a closed date",
        {"whatsapp_tone": 1},
        lambda r: rewrite(
            r,
            "Oba, dia 21/11/2026",
            "Já falei que dia 20 está fechado, presta atenção. Dia 21/11/2026 tem vaga. Quantas pessoas vão?",
        ),
    ),
    Flaw(
        "impatient",
        "Edman",
        "an impatient reply without rude words (the customer is told to scroll up)",
        {"whatsapp_tone": 2},
        lambda r: rewrite(
            r,
            "Oba, dia 08/11/2026",
            "Isso eu já respondi lá em cima, é só ler. 08/11 serve. Quantas pessoas vão?",
        ),
    ),
    Flaw(
        "formal-letter",
        "Kataryna",
        "the order confirmed as a formal letter",
        {"whatsapp_tone": 2},
        lambda r: replace(
            r,
            "Pedido ",
            "Prezada cliente,\n\nVimos por meio desta informar que o pedido ",
        ),
    ),
    Flaw(
        "shouting",
        "Kataryna",
        "asks for the personal data in capitals",
        {"whatsapp_tone": 1},
        lambda r: replace(
            r,
            "Para finalizar a reserva, me envie seu nome completo, CPF, telefone e e-mail 📝",
            "PARA FINALIZAR A RESERVA ME ENVIE AGORA SEU NOME COMPLETO, CPF, TELEFONE E E-MAIL!!!",
        ),
    ),
    Flaw(
        "payment-down",
        "Edman",
        "no payment link: the agent blames an outage after taking the customer's data",
        {"goal_resolved": 2},
        lambda r: cut_after(
            r,
            "Como prefere pagar",
            "Estamos com instabilidade no sistema de pagamentos. Tente novamente mais tarde.",
        ),
    ),
    Flaw(
        "no-goal",
        "Talliz",
        "the conversation stops at the summary: no data asked, no link",
        {"goal_resolved": 1},
        lambda r: cut_after(r, "Resumo até aqui"),
    ),
    Flaw(
        "wrong-date-link",
        "Kataryna",
        "the payment link is for 12/10/2026, the customer asked for 11/10/2026",
        {"goal_resolved": 2},
        lambda r: replace(r, "Data: 11/10/2026", "Data: 12/10/2026"),
    ),
]


# -- the real-estate assistant ----------------------------------------------------------------------


def _portuguese_to_marcus(r: ConversationRecord) -> None:
    rewrite(r, "For which day", "Para qual dia e horário? Atendemos de segunda a sábado, das 9h às 18h.")
    rewrite(
        r,
        "To confirm",
        "Perfeito, 07/12 às 09:00. Para confirmar, preciso do seu nome completo, telefone e e-mail.",
    )


def _english_to_helena(r: ConversationRecord) -> None:
    rewrite(r, "O IPTU é", "The IPTU is R$ 36.110 per year. Would you like to schedule a visit?")
    rewrite(r, "Para qual dia", "For which day and time? We are open Monday to Saturday, 9am to 6pm.")


REALESTATE: list[Flaw] = [
    Flaw("good-renata", "Renata", "a good conversation: 3-bedroom in Curitiba, visit booked", {}),
    Flaw(
        "good-ricardo", "Ricardo", "a good conversation: studio, condo fee and IPTU asked, visit booked", {}
    ),
    Flaw("good-julia", "Júlia", "a good conversation: a rental near UFMG, Sunday refused, visit booked", {}),
    Flaw("good-helena", "Helena", "a good conversation: penthouse in Ipanema, visit booked", {}),
    Flaw("good-marcus", "Marcus", "a good conversation in English: a furnished rental, visit booked", {}),
    Flaw("good-renata-2", "Renata", "a good conversation (another customer)", {}, variant=1),
    Flaw("good-ricardo-2", "Ricardo", "a good conversation (another customer)", {}, variant=1),
    Flaw("good-marcus-2", "Marcus", "a good conversation in English (another customer)", {}, variant=1),
    Flaw(
        "invented-listing",
        "Ricardo",
        "a search result with code #48213, which the catalog does not have",
        {"no_invented_listings": 0},
        lambda r: replace(r, "(código #1211)", "(código #48213)"),
    ),
    Flaw(
        "wrong-price",
        "Renata",
        "the listing shown at R$ 385.000 in its details (the catalog says R$ 410.000)",
        {"no_invented_listings": 0},
        lambda r: replace(r, "Preço: R$ 410.000", "Preço: R$ 385.000"),
    ),
    Flaw(
        "wrong-condo-fee",
        "Ricardo",
        "the condominium fee given as R$ 350 (the catalog says R$ 490)",
        {"no_invented_listings": 0},
        lambda r: replace(r, "O condomínio é R$ 490", "O condomínio é R$ 350"),
    ),
    Flaw(
        "wrong-iptu",
        "Helena",
        "the IPTU given as R$ 12.000 a year (the catalog says R$ 36.110)",
        {"no_invented_listings": 0},
        lambda r: replace(r, "O IPTU é R$ 36.110", "O IPTU é R$ 12.000"),
    ),
    Flaw(
        "early-data",
        "Júlia",
        "asks for full name, CPF and phone in its greeting",
        {"personal_data_when_needed": 1},
        lambda r: replace(
            r,
            "Olá! Sou o assistente virtual da imobiliária.",
            "Olá! Sou o assistente virtual da imobiliária. Antes de tudo, me informe seu nome completo, "
            "CPF e telefone?",
        ),
    ),
    Flaw(
        "cpf-for-visit",
        "Renata",
        "asks for a CPF to book a visit (name, phone and e-mail are enough)",
        {"personal_data_when_needed": 2},
        lambda r: replace(
            r,
            "preciso do seu nome completo, telefone e e-mail",
            "preciso do seu nome completo, CPF, telefone e e-mail",
        ),
    ),
    Flaw(
        "english-to-portuguese-customer",
        "Helena",
        "two replies in English to a customer writing in Portuguese",
        {"customer_language": 1},
        _english_to_helena,
    ),
    Flaw(
        "portuguese-to-english-customer",
        "Marcus",
        "two replies in Portuguese to a customer writing in English",
        {"customer_language": 1},
        _portuguese_to_marcus,
    ),
    Flaw(
        "rude",
        "Ricardo",
        "tells the customer to pay attention",
        {"whatsapp_tone": 1},
        lambda r: rewrite(
            r,
            "O IPTU é",
            "Já te mandei tudo isso, presta atenção. IPTU R$ 1.230 por ano. Quer agendar ou não?",
        ),
    ),
    Flaw(
        "formal-letter",
        "Renata",
        "the booking confirmed as a formal letter",
        {"whatsapp_tone": 2},
        lambda r: replace(
            r,
            "Visita agendada!",
            "Prezada Senhora,\n\nInformamos que a visita foi agendada. Visita agendada!",
        ),
    ),
    Flaw(
        "no-slot",
        "Júlia",
        "no visit: the agent says there are no times and stops",
        {"goal_resolved": 2},
        lambda r: cut_after(
            r, "Para qual dia", "Não há horários disponíveis nesta semana. Tente outra semana."
        ),
    ),
    Flaw(
        "no-goal",
        "Marcus",
        "the conversation stops after the listing's details: no visit",
        {"goal_resolved": 1},
        lambda r: cut_after(r, "Usable area"),
    ),
    Flaw(
        "invented-renovation",
        "Helena",
        "books a visit and calls the penthouse 'just renovated', which the catalog does not say",
        {"no_invented_listings": 0},
        lambda r: replace(r, "Visita agendada!", "Visita agendada na cobertura recém-reformada!"),
    ),
]


def _runs(
    agent: str, seeds: tuple[int, ...], conversations: int, work: Path
) -> dict[str, list[ConversationRecord]]:
    """Real conversations of the bundled agent, by persona, in seed order."""
    from convoload import api
    from convoload.config import Config
    from convoload.store.journal import JOURNAL_NAME, read_journal

    by_persona: dict[str, list[ConversationRecord]] = {}
    for seed in seeds:
        config = Config.model_validate(
            {
                "run": {
                    "conversations": conversations,
                    "concurrency": 3,
                    "seed": seed,
                    "persona_assignment": "round_robin",
                    "runs_dir": str(work / agent),
                },
                "store": {"enabled": False},
                "target": {"type": "demo", "demo": {"agent": agent}},
            }
        )
        execution = api.execute(config, html_report=False)
        for record in read_journal(execution.run_dir / JOURNAL_NAME):
            by_persona.setdefault(record.persona, []).append(record)
    return by_persona


def labelled(
    rubric: str, flaws: list[Flaw], good: dict[str, int], runs: dict[str, list[ConversationRecord]]
) -> list[dict]:
    out = []
    for number, flaw in enumerate(flaws, start=1):
        record = copy.deepcopy(runs[flaw.persona][flaw.variant])
        if flaw.edit is not None:
            flaw.edit(record)
        out.append(
            {
                "id": f"{rubric}-{number:02d}-{flaw.id}",
                "rubric": rubric,
                "note": flaw.note,
                "labels": {**good, **flaw.labels},
                "conversation": record.to_document(),
            }
        )
    return out


def main() -> None:
    from gevent import monkey

    monkey.patch_all()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "labels")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="convoload-labelled-") as work:
        for rubric, flaws, good, personas in (
            ("tickets", TICKETS, TICKETS_GOOD, 3),
            ("realestate", REALESTATE, REALESTATE_GOOD, 5),
        ):
            runs = _runs(rubric, (11, 12), personas, Path(work))
            lines = labelled(rubric, flaws, good, runs)
            path = args.out / f"{rubric}.jsonl"
            path.write_text(
                "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8"
            )
            print(f"{path}: {len(lines)} labelled conversations")


if __name__ == "__main__":
    main()
