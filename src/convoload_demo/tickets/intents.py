"""Keyword-level understanding: yes/no, info questions, quantities, upsell and payment choices."""

from __future__ import annotations

import re

from convoload_demo.tickets.catalog import PRODUCT_ARVORAR, PRODUCT_PARK
from convoload_demo.tickets.text import EN_NUMBER_WORDS, PT_NUMBER_WORDS, has_phrase, parse_number, words

_YES = (
    "sim",
    "aceito",
    "claro",
    "ok",
    "okay",
    "beleza",
    "blz",
    "bora",
    "yes",
    "yeah",
    "yep",
    "yup",
    "sure",
    "isso",
    "perfeito",
    "combinado",
    "fechado",
    "com certeza",
    "of course",
    "sounds good",
    "pode ser",
    "pode sim",
    "quero sim",
    "pode mandar",
    "manda",
    "show",
    "certo",
    "positivo",
    "please",
    "otimo",
    "great",
    "fine",
    "por favor",
    "uhum",
)
# Only count as "yes" in short answers: "quero ingressos" is not a marketing opt-in.
_WEAK_YES = ("pode", "quero", "s", "want", "accept", "aceitamos", "i do", "go ahead")
_NO = ("nao", "dispenso", "n", "nope", "negativo", "no thanks", "not now", "nah")

INFO_PATTERNS: dict[str, tuple[str, ...]] = {
    "location": (
        "onde fica",
        "onde e",
        "onde ficam",
        "endereco",
        "localizacao",
        "como chego",
        "como chegar",
        "como eu chego",
        "where",
        "address",
        "location",
        "how do i get",
        "how to get",
        "get there",
    ),
    "attractions": (
        "o que tem pra fazer",
        "o que tem para fazer",
        "o que tem no parque",
        "o que tem la",
        "atracoes",
        "atracao",
        "o que fazer",
        "atividades",
        "atividade",
        "o que e o arvorar",
        "o que e arvorar",
        "what to do",
        "attractions",
        "attraction",
        "activities",
        "things to do",
        "what is there",
        "what's there",
        "what is arvorar",
    ),
    "prices": (
        "quanto custa",
        "quanto custam",
        "preco",
        "precos",
        "valor",
        "valores",
        "quanto e o ingresso",
        "quanto sai",
        "price",
        "prices",
        "how much",
        "cost",
        "costs",
        "pricing",
    ),
    "availability": (
        "disponibilidade",
        "tem vaga",
        "tem vagas",
        "disponivel",
        "disponiveis",
        "vagas",
        "vaga",
        "availability",
        "available",
        "open on",
        "aberto",
        "abertos",
        "aberta",
    ),
    "hours": ("horario", "horarios", "que horas", "hours", "what time", "opening times"),
}

_BUY_WORDS = (
    "comprar",
    "compra",
    "reservar",
    "reserva",
    "quero ir",
    "queremos ir",
    "visitar",
    "quero ingresso",
    "quero ingressos",
    "queria ingressos",
    "gostaria",
    "book",
    "booking",
    "buy",
    "purchase",
    "reservation",
    "visit",
    "i'd like",
    "want tickets",
    "want to go",
)
_TICKET_NOUNS = ("ingresso", "ingressos", "bilhete", "bilhetes", "entrada", "entradas", "ticket", "tickets")
_GREETINGS = (
    "oi",
    "ola",
    "bom dia",
    "boa tarde",
    "boa noite",
    "hi",
    "hello",
    "hey",
    "good morning",
    "good afternoon",
    "good evening",
    "e ai",
    "opa",
    "tudo bem",
)
_THANKS = ("obrigado", "obrigada", "valeu", "thanks", "thank you", "brigado", "agradeco")

_EN_MARKERS = {
    "hi",
    "hello",
    "hey",
    "want",
    "tickets",
    "ticket",
    "the",
    "please",
    "i'd",
    "i'm",
    "i",
    "would",
    "like",
    "where",
    "how",
    "what",
    "book",
    "buy",
    "good",
    "morning",
    "is",
    "are",
    "you",
    "my",
    "can",
    "for",
    "and",
    "to",
    "of",
    "need",
    "we",
    "there",
    "thanks",
}
_PT_MARKERS = {
    "oi",
    "ola",
    "quero",
    "ingresso",
    "ingressos",
    "bom",
    "boa",
    "dia",
    "tarde",
    "noite",
    "voce",
    "para",
    "pra",
    "obrigado",
    "tudo",
    "bem",
    "gostaria",
    "onde",
    "fica",
    "eu",
    "de",
    "o",
    "um",
    "uma",
    "comprar",
    "queria",
    "tem",
    "qual",
    "quanto",
    "e",
    "como",
    "sim",
    "nao",
    "por",
    "favor",
}

_CATEGORY_RE: dict[str, str] = {
    "adulto": r"adult(?:o|a|os|as|s)?",
    "crianca": r"criancas?|criancinhas?|child(?:ren)?|kids?",
    "idoso": r"idos[oa]s?|seniors?|elderly",
    "gestante": r"gestantes?|gravidas?|pregnant(?:\s+(?:woman|women|lady|ladies))?",
    "pcd": (
        r"pcds?|pessoas?\s+com\s+deficiencia|(?:person|people)\s+with\s+(?:a\s+)?disabilit(?:y|ies)"
        r"|disabled(?:\s+(?:person|people))?"
    ),
}
_FILLER = r"(?:(?:ingressos?|entradas?|bilhetes?|tickets?|de|do|da|para|pra|for|pessoas?|x)\s+){0,3}"
_HEADCOUNT_NOUN = r"(?:ingressos?|entradas?|bilhetes?|pessoas|tickets?|people|persons)\b"


def _number_alt(lang: str) -> str:
    names = list(PT_NUMBER_WORDS) + list(EN_NUMBER_WORDS) + (["a", "an"] if lang == "en" else [])
    return r"(?<![\w/.,\-])(\d{1,2}|" + "|".join(names) + r")\s*x?\s+"


def detect_language(norm: str) -> str:
    """'en' when the first message looks English, else 'pt'."""
    toks = words(norm)
    en = sum(t in _EN_MARKERS for t in toks)
    pt = sum(t in _PT_MARKERS for t in toks)
    return "en" if en > pt else "pt"


def yes_no(norm: str, lang: str) -> bool | None:
    """Interpret a yes/no answer; negation wins over agreement ("claro que não")."""
    toks = words(norm)
    if has_phrase(norm, *_NO) or (lang == "en" and "no" in toks):
        return False
    if has_phrase(norm, *_YES):
        return True
    if len(toks) <= 4 and has_phrase(norm, *_WEAK_YES):
        return True
    return None


def info_topics(norm: str) -> list[str]:
    """Info questions present in the message, in a stable order."""
    return [topic for topic, phrases in INFO_PATTERNS.items() if has_phrase(norm, *phrases)]


def wants_tickets(norm: str) -> bool:
    """Purchase intent; a ticket noun inside a plain info question ("how much are tickets?") is not."""
    if has_phrase(norm, *_BUY_WORDS):
        return True
    questions = [topic for topic in info_topics(norm) if topic != "availability"]
    return has_phrase(norm, *_TICKET_NOUNS) and not questions


def is_greeting(norm: str) -> bool:
    return has_phrase(norm, *_GREETINGS)


def is_thanks(norm: str) -> bool:
    return has_phrase(norm, *_THANKS)


def product_choice(norm: str) -> str | None:
    """'Arvorar' when mentioned (not negated), 'Parque' for explicit plain-admission requests."""
    if re.search(r"\b(?:sem|without)\s+(?:o\s+|the\s+)?arvorar", norm):
        return PRODUCT_PARK
    if "arvorar" in norm:
        return PRODUCT_ARVORAR
    if has_phrase(
        norm,
        "so o parque",
        "apenas o parque",
        "somente o parque",
        "so a entrada",
        "entrada simples",
        "ingresso simples",
        "ingresso normal",
        "just the park",
        "only the park",
        "general admission",
    ):
        return PRODUCT_PARK
    return None


def quantities(norm: str, lang: str) -> tuple[dict[str, int], bool]:
    """Category counts ("2 adultos e 2 crianças") and whether they came from a bare headcount.

    A bare headcount ("3 ingressos") counts everyone as adults.
    """
    number = _number_alt(lang)
    found: dict[str, int] = {}
    for category, pattern in _CATEGORY_RE.items():
        for m in re.finditer(number + _FILLER + r"(?:" + pattern + r")\b", norm):
            value = _count(m.group(1))
            if value:
                found[category] = found.get(category, 0) + value
    if found:
        return found, False
    if (m := re.search(number + _HEADCOUNT_NOUN, norm)) and (value := _count(m.group(1))):
        return {"adulto": value}, True
    return {}, False


def _count(token: str) -> int | None:
    return 1 if token in ("a", "an") else parse_number(token)


_ADD_VERB = (
    r"\b(?:com|quero|queremos|adiciona|adicionar|adicione|incluir|inclui|mais|with|add|plus|include)\s+"
)
_CABIN = r"\bcabanas?\b|\bcabins?\b|\bchales?\b"
_ZIPLINE = r"\btirolesas?\b|\bzip\s*-?\s*lines?\b|\bziplines?\b"


def _mentioned(norm: str, pattern: str, *, explicit_only: bool) -> bool | None:
    """True if an add-on is wanted, False if explicitly refused, None if not mentioned.

    With ``explicit_only`` a mere mention ("vi que tem tirolesa") is not a request: it needs a verb.
    """
    if not re.search(pattern, norm):
        return None
    item = r"(?:(?:a|o|as|os|the|uma|um|an)\s+)?(?:" + pattern + ")"
    if re.search(r"\b(?:so|apenas|somente|just|only)\s+" + item, norm):
        return True
    if re.search(r"\b(?:nao|sem|without|no|not)\s+(?:\w+\s+){0,2}(?:" + pattern + ")", norm):
        return False
    if re.search(r"(?:" + pattern + r")\s+(?:nao|no|not)\b", norm):
        return False
    if explicit_only:
        return True if re.search(_ADD_VERB + item, norm) else None
    return True


_ONLY_TICKETS = (
    "so os ingressos",
    "so o ingresso",
    "so ingressos",
    "so ingresso",
    "apenas os ingressos",
    "somente os ingressos",
    "sem adicionais",
    "just the tickets",
    "only the tickets",
    "just tickets",
    "no extras",
)
_NONE_OF_THEM = ("nenhum", "nenhuma", "nada", "none")


def upsell_choice(norm: str, lang: str, *, explicit_only: bool = False) -> tuple[bool, bool] | None:
    """(cabin, zipline) chosen, or None when the message does not answer the offer.

    ``explicit_only`` is for messages sent before the offer was made: bare yes/no and vague words
    are ignored there.
    """
    cabin = _mentioned(norm, _CABIN, explicit_only=explicit_only)
    zipline = _mentioned(norm, _ZIPLINE, explicit_only=explicit_only)
    if not explicit_only and has_phrase(norm, "os dois", "as duas", "ambos", "ambas", "both", "the two"):
        return (cabin is not False, zipline is not False)
    if cabin or zipline:
        return (bool(cabin), bool(zipline))
    if cabin is False or zipline is False or has_phrase(norm, *_ONLY_TICKETS):
        return (False, False)
    if explicit_only:
        return None
    if has_phrase(norm, *_NONE_OF_THEM):
        return (False, False)
    answer = yes_no(norm, lang)
    if answer is None:
        return None
    return (answer, False)


def nights(norm: str) -> int | None:
    if m := re.search(r"\b(\d{1,2}|[a-z]+)\s+(?:noites?|nights?|diarias?)\b", norm):
        return parse_number(m.group(1))
    return None


def zipline_people(norm: str) -> int | None:
    if m := re.search(r"(?:tirolesa|zip\s*-?\s*line)\s+(?:para|pra|for)\s+(\d{1,2}|[a-z]+)\b", norm):
        return parse_number(m.group(1))
    pattern = r"\b(\d{1,2}|[a-z]+)\s+(?:pessoas?\s+|people\s+)?(?:na|on the|on)\s+(?:tirolesa|zip)"
    if m := re.search(pattern, norm):
        return parse_number(m.group(1))
    return None


def payment_method(norm: str) -> str | None:
    pix = has_phrase(norm, "pix")
    card = has_phrase(norm, "cartao", "credito", "card", "credit", "credit card")
    if pix == card:
        return None
    return "pix" if pix else "card"
