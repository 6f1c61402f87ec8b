"""A customer buying tickets from a booking assistant (the load test our users run today).

Intents are recognised from keyword families in Portuguese and English, most
specific first: a reply that shows the payment options and mentions a CPF is
about payment, not about personal data.

The customer side reads the agent with convoload's own text helpers (`convoload.textutil`), never
with the ticket agent's (`convoload_demo.tickets.text`): a parsing bug shared by both sides would
cancel itself out and a broken agent would still look right.
"""

from __future__ import annotations

import re

from convoload.textutil import Keywords, dates_in, fold, has_any
from convoload.users.playbooks import Playbook

_CATEGORY_NAMES = {
    "adulto": (("adulto", "adultos"), ("adult", "adults")),
    "crianca": (("criança", "crianças"), ("child", "children")),
    "idoso": (("idoso", "idosos"), ("senior", "seniors")),
    "gestante": (("gestante", "gestantes"), ("pregnant woman", "pregnant women")),
    "pcd": (("PCD", "PCDs"), ("person with disability", "people with disabilities")),
}


# Keyword families, built once: every agent reply of every conversation is matched against them.
_INVALID = Keywords(("invalido", "invalida", "invalid", "incorreto", "nao e valido", "not valid"))
_PAY_METHODS = Keywords(("pix", "cartao", "card", "boleto"))
_PAY_WORDS = Keywords(("pagar", "pagamento", "pay", "payment", "forma de"))
_PERSONAL = Keywords(
    (
        "nome completo",
        "full name",
        "cpf",
        "telefone",
        "celular",
        "phone",
        "e-mail",
        "email",
        "dados pessoais",
        "personal details",
    )
)
_EXTRAS = Keywords(
    ("cabana", "cabanas", "cabin", "cabins", "tirolesa", "zipline", "experiencia", "experience", "upgrade")
)
_OFFER = Keywords(("adicionar", "add", "incluir", "include", "deseja", "quer", "would you like", "gostaria"))
_CLOSED = Keywords(
    (
        "fechado",
        "fechada",
        "fechados",
        "fechadas",
        "closed",
        "nao abre",
        "nao abrimos",
        "will not open",
        "sem disponibilidade",
        "esgotado",
        "sold out",
    )
)
_CHOOSE_DATE = Keywords(
    ("qual data", "which date", "prefere", "prefer", "disponibilidade", "availability", "available")
)
_QUANTITIES = Keywords(
    ("quantas pessoas", "quantos ingressos", "quantidade", "quantas", "quantos", "how many")
)
_DATE = Keywords(
    (
        "qual data",
        "para qual data",
        "pra qual data",
        "que dia",
        "qual dia",
        "which date",
        "what date",
        "which day",
        "data da visita",
        "what day",
    )
)
_PROMOTIONS = Keywords(
    (
        "promocoes",
        "promocionais",
        "promocao",
        "novidades",
        "promotions",
        "promotional",
        "offers",
        "newsletter",
    )
)
_ACCEPT = Keywords(("aceita", "receber", "accept", "receive", "would you like"))
_HELP = Keywords(
    (
        "como posso ajudar",
        "posso te ajudar",
        "posso ajudar",
        "how can i help",
        "how may i help",
        "what can i do for you",
        "em que posso",
    )
)


def _detect(reply: str) -> str:
    f = fold(reply)
    if "cpf" in f and _INVALID.found_in(f):
        return "invalid_cpf"
    if _PAY_METHODS.found_in(f) and _PAY_WORDS.found_in(f):
        return "payment"
    if _PERSONAL.found_in(f):
        return "personal_data"
    if _EXTRAS.found_in(f) and _OFFER.found_in(f):
        return "upsell"
    if _CLOSED.found_in(f):
        return "closed"
    if len(dates_in(reply)) >= 2 and _CHOOSE_DATE.found_in(f):
        return "offered_dates"
    if _QUANTITIES.found_in(f):
        return "quantities"
    if _DATE.found_in(f):
        return "date"
    if _PROMOTIONS.found_in(f) and _ACCEPT.found_in(f):
        return "optin"
    if _HELP.found_in(f):
        return "help"
    return "unknown"


class TicketsPlaybook(Playbook):
    domain = "tickets"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        facts = self.persona.facts
        self.questions = [str(q) for q in facts.get("questions", [])]
        self.date = str(facts["date"]) if facts.get("date") else None
        self.alternative_date = str(facts["alternative_date"]) if facts.get("alternative_date") else None
        self.quantities: dict[str, int] = {str(k): int(v) for k, v in (facts.get("quantities") or {}).items()}
        self.product = facts.get("product")
        self.payment_method = str(facts.get("payment_method", "pix"))
        self.upsell_choice = facts.get("upsell_choice")
        self.requested = False  # has the purchase been asked for yet?
        self.cpf_resent = 0

    # -- the conversation ---------------------------------------------------------------------------
    def opening(self) -> str:
        return self.say(["oii", "oi, tudo bem?", "olá!"], ["hi!", "hello there"])

    def respond(self, reply: str) -> str | None:
        intent = _detect(reply)
        if intent == "unknown" and (self.questions or not self.requested):
            intent = "help"  # we are still driving the conversation: nothing was misunderstood
        if not self.note_intent(intent):
            return None
        handler = getattr(self, f"_on_{intent}")
        return handler(reply)

    def _on_invalid_cpf(self, reply: str) -> str | None:
        self.cpf_resent += 1
        if self.cpf_resent > 2:
            self.stop("cpf_rejected")
            return None
        return self.say(
            [f"eita, confere aí: {self.identity.cpf}", f"meu cpf é {self.identity.cpf_digits}"],
            f"let me double-check: my CPF is {self.identity.cpf}",
        )

    def _on_personal_data(self, reply: str) -> str:
        f = fold(reply)
        wanted = {
            "name": has_any(f, "nome", "name"),
            "cpf": "cpf" in f,
            "phone": has_any(f, "telefone", "celular", "phone", "whatsapp"),
            "email": has_any(f, "e-mail", "email"),
        }
        if not any(wanted.values()):
            wanted = dict.fromkeys(wanted, True)
        ident = self.identity
        labels = {
            "name": ("Nome", "Name"),
            "cpf": ("CPF", "CPF"),
            "phone": ("Telefone", "Phone"),
            "email": ("E-mail", "E-mail"),
        }
        values = {"name": ident.full_name, "cpf": ident.cpf, "phone": ident.phone, "email": ident.email}
        lines = [f"{labels[k][1 if self.english else 0]}: {values[k]}" for k, on in wanted.items() if on]
        intro = self.say(["claro! segue:", "bora lá", "tá aqui:"], ["sure, here you go:", "here:"])
        return "\n".join([intro, *lines])

    def _on_payment(self, reply: str) -> str:
        if self.payment_method.lower() in {"cartao", "cartão", "card", "credito", "crédito"}:
            return self.say(["vou no cartão de crédito", "cartão, por favor"], "credit card, please")
        return self.say(["pix", "vou pagar no pix", "pode ser pix 👍"], ["PIX, please", "I'll pay with PIX"])

    def _on_upsell(self, reply: str) -> str:
        if not self.persona.behaves("accepts_upsell"):
            return self.say(
                ["não, obrigado, só os ingressos mesmo", "dispenso, valeu", "não precisa, obg"],
                ["no thanks, just the tickets", "no, thank you"],
            )
        choice = self.upsell_choice or (
            "cabana" if "cabana" in fold(reply) or "cabin" in fold(reply) else "sim"
        )
        if self.english:
            return f"yes! please add the {'cabin' if fold(choice) in {'cabana', 'cabin'} else choice}"
        return self.say(
            [f"quero sim! pode incluir a {choice} 😍", f"opa, aceito a {choice}"], f"yes, add the {choice}"
        )

    def _on_closed(self, reply: str) -> str | None:
        if not self.persona.behaves("accepts_alternative_date", True):
            self.stop("date_unavailable")
            return None
        offered = [d for d in dates_in(reply) if not self.date or d not in self.date]
        new_date = self.alternative_date or (offered[0] if offered else None)
        if new_date is None:
            return self.say(
                ["que pena! qual outra data vcs têm?", "poxa, e qual dia tem?"],
                "oh no! which other date do you have?",
            )
        self.date = new_date
        return self.say(
            [f"ah, que pena. pode ser dia {new_date} então", f"beleza, {new_date} serve"],
            f"too bad. {new_date} works for me then",
        )

    def _on_offered_dates(self, reply: str) -> str:
        offered = dates_in(reply)
        preferred = self.alternative_date if self.alternative_date in offered else offered[0]
        self.date = preferred
        return self.say([f"pode ser {preferred}", f"vou querer dia {preferred}"], f"{preferred}, please")

    def _on_quantities(self, reply: str) -> str:
        if not self.quantities:
            return self.say("só eu mesmo, 1 adulto", "just me, 1 adult")
        return self.say(
            [f"{self._quantities_phrase()}", f"somos {self._quantities_phrase()}"],
            f"we are {self._quantities_phrase()}",
        )

    def _on_date(self, reply: str) -> str:
        if not self.date:
            return self.say("qualquer dia desse mês", "any day this month")
        if self._is_period(self.date):
            return self.say(
                f"seria pra {self.date}, tem disponibilidade?",
                f"it would be for the {self.date}, any availability?",
            )
        return self.say([f"pro dia {self.date}", f"dia {self.date}"], f"for {self.date}")

    def _on_optin(self, reply: str) -> str:
        if self.persona.behaves("accepts_optin"):
            return self.say(["sim, pode mandar 👍", "aceito sim"], "yes, sure")
        return self.say(["não, obrigado", "prefiro não receber"], "no thanks")

    def _on_help(self, reply: str) -> str | None:
        return self._next_agenda_item()

    def _on_unknown(self, reply: str) -> str | None:
        return self._next_agenda_item()

    # -- helpers ------------------------------------------------------------------------------------
    def _next_agenda_item(self) -> str | None:
        if self.questions:
            return self.questions.pop(0)
        if not self.requested:
            self.requested = True
            return self._purchase_request()
        # The agent said something we cannot place: nudge with what we want.
        return self.say(
            ["e aí, consegue me vender os ingressos?", "então, queria fechar a compra"],
            "so, can I buy the tickets?",
        )

    def _purchase_request(self) -> str:
        product_pt = f" do {self.product}" if self.product else ""
        product_en = f" for {self.product}" if self.product else ""
        if not self.date:
            return self.say(f"quero comprar ingressos{product_pt}", f"I'd like to buy tickets{product_en}")
        if self.persona.facts.get("ask_availability") or self._is_period(self.date):
            return self.say(
                f"queria ver a disponibilidade pra {self.date}, quero comprar ingressos{product_pt}",
                f"what's the availability for the {self.date}? I want to buy tickets{product_en}",
            )
        return self.say(
            [
                f"quero comprar ingressos{product_pt} pro dia {self.date}",
                f"queria ingressos{product_pt} pra {self.date}",
            ],
            f"I'd like to buy tickets{product_en} for {self.date}",
        )

    def _quantities_phrase(self) -> str:
        parts = []
        for category, count in self.quantities.items():
            pt, en = _CATEGORY_NAMES.get(category, ((category, category), (category, category)))
            names = en if self.english else pt
            parts.append(f"{count} {names[0] if count == 1 else names[1]}")
        joiner = " and " if self.english else " e "
        return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + joiner + parts[-1]

    @staticmethod
    def _is_period(date_text: str) -> bool:
        return not re.fullmatch(r"\s*\d{1,2}/\d{1,2}(/\d{2,4})?\s*", date_text)
