"""A customer looking for a property with a real-estate assistant: criteria, details, a visit.

Recognises the questions such assistants ask (buy or rent, city, budget,
bedrooms), picks a listing from the results, asks the persona's follow-up
questions about it, and books a visit with the synthetic identity.

Like every customer side, it reads the agent with `convoload.textutil`, never with the assistant's own
text helpers (`convoload_demo.realestate.swarm.rules.text`), so that a shared parsing bug cannot
cancel itself out.
"""

from __future__ import annotations

import re

from convoload.textutil import fold, has_any
from convoload.users.playbooks import Playbook

_SLOT_RE = re.compile(r"\b(\d{1,2}/\d{1,2})\s+(?:as|at)\s+(\d{1,2})(?:h|:00|\s?(?:am|pm))?", re.IGNORECASE)


def _detect(reply: str) -> str:
    f = fold(reply)
    if has_any(f, "visita agendada", "visit booked"):
        return "booked"
    if has_any(f, "nome completo", "full name") or (
        has_any(f, "telefone", "phone") and has_any(f, "e-mail", "email")
    ):
        return "personal_data"
    if has_any(f, "horarios disponiveis", "available times", "horario disponivel"):
        return "offered_slots"
    if has_any(f, "dia e horario", "day and time", "qual dia", "which day"):
        return "visit_time"
    if has_any(f, "agendar uma visita", "schedule a visit"):
        return "offer_visit"
    if has_any(f, "nao encontrei", "no listings", "found no"):
        return "no_results"
    if "#" in reply and has_any(f, "saber mais", "know more", "codigo", "code"):
        return "results"
    if has_any(f, "orcamento", "budget"):
        return "budget"
    if has_any(f, "quartos", "bedrooms", "dormitorios"):
        return "bedrooms"
    if has_any(f, "comprar ou alugar", "buy or rent", "cidade", "city"):
        return "criteria"
    return "unknown"


class RealEstatePlaybook(Playbook):
    domain = "realestate"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        facts = self.persona.facts
        self.questions = [str(q) for q in facts.get("questions", [])]
        self.criteria_sent = False
        self.visit = str(facts.get("visit", "sábado às 10h" if not self.english else "Saturday at 10am"))
        self.pick = int(facts.get("pick", 1))
        self.budget_fallback = facts.get("budget_fallback")
        self.tried_slots: set[tuple[str, str]] = set()

    def opening(self) -> str:
        return self.say(["oi, boa tarde!", "olá!"], ["hi!", "hello!"])

    def respond(self, reply: str) -> str | None:
        intent = _detect(reply)
        if intent == "booked":
            self.stop("visit_booked")
            return None
        if intent == "unknown" and not self.criteria_sent:
            intent = "criteria"  # we still drive: state what we are looking for
        if not self.note_intent(intent):
            return None
        return getattr(self, f"_on_{intent}")(reply)

    # -- answers ------------------------------------------------------------------------------------
    def _on_criteria(self, reply: str) -> str:
        self.criteria_sent = True
        return self._criteria_message()

    def _on_budget(self, reply: str) -> str:
        return self.say(f"meu orçamento é {self._fact('budget')}", f"my budget is {self._fact('budget')}")

    def _on_bedrooms(self, reply: str) -> str:
        bedrooms = self.persona.facts.get("bedrooms", 1)
        return self.say(f"preciso de {bedrooms} quartos", f"I need {bedrooms} bedrooms")

    def _on_results(self, reply: str) -> str:
        return self.say(
            [f"quero saber mais do {self.pick}", f"me fala mais do {self.pick}"],
            f"tell me more about number {self.pick}",
        )

    def _on_no_results(self, reply: str) -> str | None:
        if not self.budget_fallback:
            self.stop("no_listing_found")
            return None
        budget, self.budget_fallback = self.budget_fallback, None
        return self.say(f"pode ser até {budget} então", f"ok, up to {budget} then")

    def _on_offer_visit(self, reply: str) -> str:
        if self.questions:
            return self.questions.pop(0)
        return self.say(
            ["sim, quero agendar uma visita", "quero sim, bora agendar"], "yes, I'd like to schedule a visit"
        )

    def _on_visit_time(self, reply: str) -> str:
        return self.say(f"pode ser {self.visit}", f"{self.visit}, please")

    def _on_offered_slots(self, reply: str) -> str:
        # Only the slots offered after the marker: the sentence before it names the refused one.
        folded = fold(reply)
        marker = max(folded.find("horarios disponiveis"), folded.find("available times"))
        offered = [(m.group(1), m.group(2)) for m in _SLOT_RE.finditer(folded[max(marker, 0) :])]
        fresh = [slot for slot in offered if slot not in self.tried_slots]
        if not fresh:
            return self.say("pode ser o primeiro horário", "the first one, please")
        day, hour = fresh[0]
        self.tried_slots.add((day, hour))
        return self.say(f"pode ser {day} às {hour}h", f"{day} at {hour}:00, please")

    def _on_personal_data(self, reply: str) -> str:
        ident = self.identity
        if self.english:
            return f"sure:\nName: {ident.full_name}\nPhone: {ident.phone}\nE-mail: {ident.email}"
        return f"claro!\nNome: {ident.full_name}\nTelefone: {ident.phone}\nE-mail: {ident.email}"

    def _on_unknown(self, reply: str) -> str:
        return self.say("não entendi, pode repetir?", "sorry, could you say that again?")

    # -- helpers ------------------------------------------------------------------------------------
    def _fact(self, name: str) -> str:
        return str(self.persona.facts.get(name, ""))

    def _criteria_message(self) -> str:
        f = self.persona.facts
        if f.get("criteria"):
            return str(f["criteria"])
        parts = [self._fact("transaction"), self._fact("property_type")]
        where = f"em {self._fact('city')}" if not self.english else f"in {self._fact('city')}"
        hoods = f.get("neighbourhoods") or []
        if hoods:
            joined = " ou ".join(hoods) if not self.english else " or ".join(hoods)
            where += f", no {joined}" if not self.english else f", {joined}"
        parts.append(where)
        if f.get("bedrooms"):
            parts.append(f"{f['bedrooms']} quartos" if not self.english else f"{f['bedrooms']} bedrooms")
        if f.get("budget"):
            parts.append(str(f["budget"]))
        if f.get("extras"):
            parts.append(str(f["extras"]))
        prefix = self.say(["quero", "to procurando pra"], "I want to")
        return f"{prefix} " + ", ".join(p for p in parts if p)
