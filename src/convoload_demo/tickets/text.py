"""The ticket agent's text helpers: accent/case-insensitive normalisation and phrase matching.

Its own on purpose, like its number words: the agent under test never shares a parser with the
simulated customer (`convoload.textutil`), or a bug in it would cancel itself out.
"""

from __future__ import annotations

import re
import unicodedata

_WORD_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")

PT_NUMBER_WORDS: dict[str, int] = {
    "um": 1,
    "uma": 1,
    "dois": 2,
    "duas": 2,
    "tres": 3,
    "quatro": 4,
    "cinco": 5,
    "seis": 6,
    "sete": 7,
    "oito": 8,
    "nove": 9,
    "dez": 10,
    "onze": 11,
    "doze": 12,
}
EN_NUMBER_WORDS: dict[str, int] = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
}
NUMBER_WORDS: dict[str, int] = {**PT_NUMBER_WORDS, **EN_NUMBER_WORDS}


def strip_accents(text: str) -> str:
    """Remove diacritics but keep the length-independent meaning ("São" -> "Sao")."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def normalize(text: str) -> str:
    """Lower-case, accent-free version of ``text`` with typographic quotes simplified."""
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    return strip_accents(text).lower()


def words(norm: str) -> list[str]:
    """Word tokens of an already normalised text."""
    return _WORD_RE.findall(norm)


def padded(norm: str) -> str:
    """Tokens joined by single spaces and padded, so phrases can be matched on word boundaries."""
    return " " + " ".join(words(norm)) + " "


def has_phrase(norm: str, *phrases: str) -> bool:
    """True if any phrase (already normalised, space separated words) occurs as whole words."""
    hay = padded(norm)
    return any(f" {phrase} " in hay for phrase in phrases)


def parse_number(token: str) -> int | None:
    """Digits or a number word ("duas", "four") to an int."""
    if token.isdigit():
        return int(token)
    return NUMBER_WORDS.get(token)
