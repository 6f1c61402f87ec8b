"""Text helpers of the customer side: personas, simulated users (playbooks) and hooks, pt and en.

The one normaliser and number-word table convoload reads conversations with. Agents under test,
the bundled ones included, never use it: they keep their own (the demo pack does, on purpose), so
that a parsing bug shared by the customer and the agent cannot cancel itself out.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

NUMBER_WORDS = {
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
    "one": 1,
    "a": 1,
    "an": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
}

URL_RE = re.compile(r"https?://[^\s<>\"')\]]+", re.IGNORECASE)
DATE_RE = re.compile(r"\b(\d{1,2})/(\d{1,2})(?:/(\d{2,4}))?\b")


@lru_cache(maxsize=4096)
def fold(text: str) -> str:
    """Lower-case and strip accents, so keyword matching ignores both."""
    # Cached: under load the same agent replies and scripted lines are folded by the user and by
    # several hooks, turn after turn.
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def has_any(folded_text: str, *words: str) -> bool:
    """True when any of `words` (already folded) occurs in the folded text as a word or phrase."""
    return _keywords(words).found_in(folded_text)


class Keywords:
    """A family of keywords looked for as whole words or phrases, accent- and case-insensitively.

    Built once (hooks hold theirs), asked for every agent reply or customer message under load. Most
    keywords are single words: those are looked up in the text's word set, shared by every family
    asking about the same text; only phrases ("how much", "e-mail") need a search.
    """

    def __init__(self, words: Iterable[str]) -> None:
        self.words = tuple(dict.fromkeys(fold(w) for w in words))
        self._single = frozenset(w for w in self.words if _WORD_RE.fullmatch(w))
        self._phrases = tuple(w for w in self.words if w not in self._single)
        alternatives = "|".join(re.escape(w) for w in sorted(self._phrases, key=len, reverse=True))
        self._pattern = re.compile(rf"(?<![a-z0-9])(?:{alternatives})(?![a-z0-9])") if self._phrases else None

    def found_in(self, folded_text: str) -> bool:
        """Whether any keyword occurs in `folded_text` (see `fold`) as a whole word or phrase."""
        if self._single and not self._single.isdisjoint(_words_of(folded_text)):
            return True
        if self._pattern is None or not any(map(folded_text.__contains__, self._phrases)):
            return False  # the substring test rules most texts out at a fraction of the search's cost
        return self._pattern.search(folded_text) is not None


_WORD_RE = re.compile(r"[a-z0-9]+")


@lru_cache(maxsize=1024)
def _words_of(folded_text: str) -> frozenset[str]:
    return frozenset(_WORD_RE.findall(folded_text))


@lru_cache(maxsize=1024)
def _keywords(words: tuple[str, ...]) -> Keywords:
    return Keywords(words)


def parse_count(token: str) -> int | None:
    token = fold(token)
    if token.isdigit():
        return int(token)
    return NUMBER_WORDS.get(token)


def dates_in(text: str) -> list[str]:
    """All dd/mm or dd/mm/yyyy dates in the text, as written, in order."""
    return [m.group(0) for m in DATE_RE.finditer(text)]
