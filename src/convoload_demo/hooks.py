"""The demo pack's hooks: what a business watches in conversations about prices, visits and homes,
and the bundled assistant's own LLM fallbacks (it reports them in its replies).

Registered under the `convoload.hooks` entry-point group (pyproject.toml), the way a pack of yours
registers its hooks. `domains` says which runs a hook is about: `scheduling_requests` and
`property_inquiries` only watch real-estate conversations (a park visitor asking about parking spaces
is no property inquiry); `price_discussions` watches every conversation.

They read the customer's words with convoload's customer-side text helpers (`convoload.textutil`),
never with the bundled agents' own: a shared parsing bug would cancel itself out.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from convoload.hooks.base import Hook, HookContext
from convoload.hooks.builtin import OllamaFallbacks
from convoload.model import TurnRecord
from convoload.textutil import Keywords, fold

_MONEY_RE = re.compile(r"(?:R\$|US\$|\$)\s?\d[\d.,]*(?:\s?(?:mil|milh[oõ]es|milhao|k|mi))?", re.IGNORECASE)


class _WordsHook(Hook):
    """A hook with a `words` threshold: keywords in the customer's messages (accents and case ignored)."""

    def __init__(self, **thresholds: Any) -> None:
        super().__init__(**thresholds)
        words = self.settings["words"]
        if isinstance(words, str) or not all(isinstance(w, str) for w in words):
            raise ValueError(f"words of {self.name} must be a list of words or phrases")
        self.keywords = Keywords(words)


class PriceDiscussions(_WordsHook):
    name = "price_discussions"
    priority = "business"
    description = "prices were asked about or quoted"
    defaults: ClassVar[dict[str, Any]] = {
        "words": [
            "preco",
            "valor",
            "quanto custa",
            "custa",
            "orcamento",
            "condominio",
            "iptu",
            "aluguel",
            "price",
            "how much",
            "cost",
            "budget",
            "fee",
            "rent",
        ]
    }

    def on_reply(self, ctx: HookContext, turn: TurnRecord, raw: Any) -> None:
        text = f"{turn.user_text} {turn.reply_text or ''}"
        amounts = _MONEY_RE.findall(text) if "$" in text else []  # every amount has a currency sign
        asked = self.keywords.found_in(fold(turn.user_text))
        if amounts or asked:
            ctx.report(
                "price discussed" + (f": {', '.join(amounts[:3])}" if amounts else ""),
                iteration=turn.iteration,
                amounts=amounts[:10],
                asked_by_user=asked,
            )


class _CustomerAsks(_WordsHook):
    """Fires on every customer message that uses one of `words` (accent- and case-insensitive)."""

    priority = "business"
    finding: ClassVar[str] = ""

    def on_reply(self, ctx: HookContext, turn: TurnRecord, raw: Any) -> None:
        if self.keywords.found_in(fold(turn.user_text)):
            ctx.report(self.finding, iteration=turn.iteration, text=turn.user_text[:200])


class SchedulingRequests(_CustomerAsks):
    name = "scheduling_requests"
    description = "the customer asked to schedule, or a visit/booking was arranged"
    finding = "scheduling requested"
    domains = frozenset({"realestate"})
    defaults: ClassVar[dict[str, Any]] = {
        "words": [
            "agendar",
            "agendamento",
            "visita",
            "visitar",
            "horario",
            "marcar",
            "reservar",
            "schedule",
            "visit",
            "appointment",
            "book",
            "booking",
        ]
    }


class PropertyInquiries(_CustomerAsks):
    name = "property_inquiries"
    description = "the customer asked about a property"
    finding = "property inquiry"
    domains = frozenset({"realestate"})
    defaults: ClassVar[dict[str, Any]] = {
        "words": [
            "imovel",
            "imoveis",
            "apartamento",
            "casa",
            "cobertura",
            "studio",
            "quartos",
            "suite",
            "vaga",
            "vagas",
            "area",
            "condominio",
            "bairro",
            "aceita pet",
            "property",
            "apartment",
            "house",
            "penthouse",
            "bedrooms",
            "parking",
            "square meters",
            "neighbourhood",
            "neighborhood",
            "condo",
        ]
    }


class AssistantOllamaFallbacks(OllamaFallbacks):
    """`ollama_fallbacks`, also reading the agent's own LLM calls where its replies carry them.

    The bundled real-estate assistant lists its LLM calls in every reply (`events`: `{"type":
    "LLMCall", "provider", "model", "fallback_used"}`); registered under the built-in hook's name, this
    subclass takes its place, so findings, thresholds and `hooks.disabled` stay those of
    `ollama_fallbacks`.
    """

    def on_reply(self, ctx: HookContext, turn: TurnRecord, raw: Any) -> None:
        events = raw.get("events") if isinstance(raw, dict) else None
        for event in events or ():
            if not isinstance(event, dict) or event.get("type") != "LLMCall":
                continue
            provider = str(event.get("provider", ""))
            if event.get("fallback_used") and re.search(
                self.settings["local_provider_pattern"], provider, re.IGNORECASE
            ):
                ctx.report(
                    f"the agent fell back to {provider}",
                    iteration=turn.iteration,
                    side="agent",
                    provider=provider,
                    model=event.get("model"),
                )
