"""Accent- and case-insensitive text matching for the rule brain.

Its own on purpose, like its number words: the agent under test never shares a parser with the
simulated customer (`convoload.textutil`), or a bug in it would cancel itself out.
"""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[a-z0-9]+")


def normalize(text: str) -> str:
    """Lower case without diacritics ("São Paulo" -> "sao paulo")."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def padded(norm: str) -> str:
    """Word tokens joined by single spaces and padded, so phrases match on word boundaries."""
    return " " + " ".join(_WORD.findall(norm)) + " "


def has(norm: str, *phrases: str) -> bool:
    """Whether any (normalised, space-separated) phrase occurs in `norm` as whole words."""
    hay = padded(norm)
    return any(f" {phrase} " in hay for phrase in phrases)


def first_phrase(norm: str, phrases: dict[str, str]) -> list[str]:
    """Values of every phrase key found in `norm`, in the order of the mapping, without duplicates."""
    hay = padded(norm)
    found: list[str] = []
    for phrase, value in phrases.items():
        if f" {phrase} " in hay and value not in found:
            found.append(value)
    return found


NUMBER_WORDS = {
    "um": 1,
    "uma": 1,
    "dois": 2,
    "duas": 2,
    "tres": 3,
    "quatro": 4,
    "cinco": 5,
    "seis": 6,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
}

_PT_HINTS = (
    "oi",
    "ola",
    "bom dia",
    "boa tarde",
    "boa noite",
    "quero",
    "queria",
    "gostaria",
    "procuro",
    "estou",
    "comprar",
    "alugar",
    "apartamento",
    "casa",
    "imovel",
    "para",
    "com",
    "nao",
    "sim",
    "obrigado",
    "obrigada",
    "tudo bem",
    "em",
    "um",
    "uma",
    "de",
    "meu",
    "minha",
    "preciso",
    "aluguel",
)
_EN_HINTS = (
    "hi",
    "hello",
    "hey",
    "good morning",
    "i",
    "i m",
    "im",
    "want",
    "looking",
    "rent",
    "buy",
    "the",
    "a",
    "for",
    "apartment",
    "house",
    "with",
    "my",
    "need",
    "please",
    "thanks",
    "in",
    "to",
    "we",
)


def detect_language(text: str) -> str:
    """'pt' or 'en' by counting common words; accents or a tie mean Portuguese."""
    norm = normalize(text)
    hay = padded(norm)
    pt = sum(hay.count(f" {w} ") for w in _PT_HINTS)
    en = sum(hay.count(f" {w} ") for w in _EN_HINTS)
    # Accents tip a close call towards Portuguese, but city names ("Florianópolis") have them too.
    if any(c in text.lower() for c in "ãõçáéíóúâêô"):
        pt += 1
    return "en" if en > pt else "pt"
