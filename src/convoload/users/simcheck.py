"""Simulator faults: is a message an LLM user wrote fit to send to the agent?

Simulated users fail in ways that are not the agent's fault: an empty message, writing as the agent
(or leaking its reasoning or its prompt), saying goodbye without the stop token (or the token with
text after it), drifting out of the persona's language, or giving a name, CPF, e-mail or phone that
is not the identity it was given. `SimChecker.check` finds the first of these in a message; the
LLM user retries once and, when the fault persists, ends the conversation as `simulator_error`,
which the report keeps apart from the agent's results.

The checks are deliberately conservative: a fault costs a retry, so an ordinary message (the
persona's own data, its goal in its own words, a short "ok") must never trip one.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from convoload.identity import Identity
from convoload.model import SimulatorFault
from convoload.personas.model import Persona
from convoload.textutil import fold

STOP = "[STOP]"  # what the simulated user is told to answer to end the conversation

# Shared word runs this long with the simulation rules, or with the persona's description, are the
# prompt repeated (a customer states its goal in its own words: the goal is not compared).
RULES_NGRAM = 7
CARD_NGRAM = 12
# Language is judged only on messages with this many words and this many marker words.
LANGUAGE_MIN_WORDS = 6
LANGUAGE_MIN_MARKERS = 3

_WORD = re.compile(r"\w+", re.UNICODE)
# "Assistente:", "**Agent:**", "Cliente:" ... : a role label written into the message.
_ROLE_LABEL = re.compile(
    r"^\W*(assistente|assistant|agente|agent|atendente|bot|system|sistema|ai|ia|cliente|customer|"
    r"user|usuario|usuaria)\W*:",
)
# How an agent (not a customer) opens a message, on folded text.
_AGENT_OPENING = re.compile(
    r"^\W*(?:(?:ola|oi|hello|hi|hola)\W+(?:\w+\W+){0,3}?)?(?:"
    r"(?:como|em que) (?:eu )?posso (?:te |lhe |o |a )?ajud|"
    r"sou (?:o|a|sua|seu) (?:assistente|atendente|agente)|"
    r"aqui e (?:o|a) (?:assistente|atendente)|"
    r"(?:seja )?bem[- ]vind[oa]|obrigad[oa] por (?:entrar em )?contat|"
    r"how (?:can|may) i (?:help|assist)|i(?: am|'m) (?:the|your) (?:virtual )?(?:assistant|agent)|"
    r"thank you for contacting|welcome to|"
    r"en que puedo ayudar|como puedo ayudar|soy (?:el|la|tu|su) asistente)"
)
# Out of character anywhere in the message: the model speaking as a model, or its reasoning.
_OUT_OF_CHARACTER = re.compile(
    r"<\s*/?\s*(?:think|thinking|reasoning)\s*>|\bas an ai\b|\blanguage model\b|\bcomo (?:uma|um) ia\b|"
    r"\bsou (?:uma|um) ia\b|\bmodelo de linguagem\b|\bcliente simulad[oa]\b|\bsimulated customer\b"
)
# Pieces of the prompt's persona block that no customer writes.
_PROMPT_MARKUP = re.compile(
    r"</?persona>|persona data|\"(?:identity|facts|behaviours|full_name|cpf_digits|phone_digits)\"\s*:"
)
_FAREWELL = re.compile(
    r"\b(?:tchau|xau|ate mais|ate logo|ate a proxima|ate breve|bye|goodbye|good bye|see you|"
    r"adios|hasta luego|hasta pronto)\b"
)
# A run of digits long enough to be a phone with area code or a CPF (dates and prices are shorter).
_NUMBER = re.compile(r"\+?\d[\d\s().-]{7,}\d")
_MIN_ID_DIGITS = 10
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_NAME_CUE = re.compile(
    r"(?i:meu nome (?:completo )?é|meu nome (?:completo )?e|me chamo|my name is|my full name is|"
    r"mi nombre es|me llamo)\s*:?\s*([^\W\d_][\w'-]*)"
)


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Marker words (folded) each of these languages has and the other two do not.
_MARKERS = {
    "pt-BR": _word_set(
        "nao voce eu um com meu minha do da dos das em isso tem sim obrigado obrigada quero pra tambem "
        "ou seu sua ja ate entao vou pode preciso gostaria oi ola tudo bem muito queria agora ele ela "
        "eles mais beleza valeu certo quanto quantos onde quando ingressos ingresso nossa pois obg "
        "vc fazer tenho meus minhas nosso"
    ),
    "en": _word_set(
        "the and is i you of it that for my in on with this have be are can what please want would "
        "not yes your thanks thank hi hello need get how much will just we our like tickets ticket buy "
        "was at an am there could sure where when does did"
    ),
    "es": _word_set(
        "el los las y es yo usted mi pero tiene gracias quiero muy del al hola cuanto cuantos entradas "
        "necesito tengo puedo quisiera con esto eso bueno hay estoy soy donde cuando mucho lo le su "
        "sus un unos hasta luego senor tambien puede podria gustaria ahora"
    ),
}


# Words a name cue may be followed by that are no name.
_NOT_NAMES = _word_set("o a os as um uma the el la mesmo same igual")


@dataclass(frozen=True, slots=True)
class SimCheck:
    """What `SimChecker.check` found: no fault, or the first fault and what showed it."""

    fault: SimulatorFault | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.fault is None

    def describe(self) -> str:
        return f"{self.fault.value}: {self.detail}" if self.fault else "ok"


OK = SimCheck()


def stop_position(text: str) -> tuple[bool, str]:
    """(the message asks to stop, what follows the stop token). The token ends a message: text
    before it is a goodbye never sent; text after it breaks the contract."""
    index = text.find(STOP)
    if index < 0:
        return False, ""
    after = text[index + len(STOP) :].strip(" \t\r\n.!?,;:…\"'*")
    return True, after


def detect_language(text: str) -> tuple[str | None, Counter[str]]:
    """The language ("pt-BR", "en" or "es") the message's marker words point to, or None when it is
    too short or too mixed to judge; with the marker counts."""
    words = _WORD.findall(fold(text))
    counts: Counter[str] = Counter()
    for language, markers in _MARKERS.items():
        counts[language] = sum(word in markers for word in words)
    if len(words) < LANGUAGE_MIN_WORDS:
        return None, counts
    (best, top), *rest = counts.most_common()
    if top < LANGUAGE_MIN_MARKERS or (rest and rest[0][1] * 2 >= top):
        return None, counts
    return best, counts


def _ngrams(words: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


class SimChecker:
    """The checks for one simulated user: its persona, identity and simulation rules."""

    def __init__(self, persona: Persona, identity: Identity, rules: str = "") -> None:
        self.language = persona.language
        self._rules = _ngrams(_WORD.findall(fold(rules)), RULES_NGRAM)
        self._card = _ngrams(_WORD.findall(fold(persona.description)), CARD_NGRAM)
        # What the persona may say about itself: its identity, and whatever its own data holds.
        data = persona.model_dump_json(exclude={"weight"}) + " " + " ".join(identity.as_dict().values())
        self._numbers = {_digits(m) for m in _NUMBER.findall(data)} | {
            identity.cpf_digits,
            identity.phone_digits,
        }
        self._emails = {e.lower() for e in _EMAIL.findall(data)} | {identity.email.lower()}
        self._names = set(_WORD.findall(fold(f"{identity.full_name} {persona.name} {persona.description}")))

    def check(self, text: str, heard: str = "") -> SimCheck:
        """The first fault of a message as the model wrote it (stripped), or OK. `heard`: what the
        agent said so far (a customer may repeat a number or an e-mail the agent gave)."""
        if not text.strip():
            return SimCheck(SimulatorFault.EMPTY, "the message is empty")
        stop, after = stop_position(text)
        if stop and after:
            return SimCheck(SimulatorFault.STOP_MID, f"text after {STOP}: {after[:60]!r}")
        body = text[: text.find(STOP)] if stop else text
        for found in (self._role_leak(body), self._identity_drift(body, heard)):
            if found is not None:
                return found
        if not stop:
            farewell = _FAREWELL.search(fold(body))
            if farewell and "?" not in body:
                return SimCheck(SimulatorFault.NO_STOP, f"said {farewell.group(0)!r} without {STOP}")
            language, counts = detect_language(body)
            if language is not None and language != self.language:
                return SimCheck(
                    SimulatorFault.LANGUAGE_DRIFT,
                    f"written in {language}, the persona speaks {self.language} "
                    f"(marker words {dict(counts)})",
                )
        return OK

    def _role_leak(self, text: str) -> SimCheck | None:
        folded = fold(text)
        for pattern, what in (
            (_ROLE_LABEL, "a role label"),
            (_AGENT_OPENING, "an agent's opening"),
            (_OUT_OF_CHARACTER, "out of character"),
            (_PROMPT_MARKUP, "the persona block"),
        ):
            match = pattern.search(folded)
            if match:
                return SimCheck(SimulatorFault.ROLE_LEAK, f"{what}: {match.group(0).strip()[:60]!r}")
        words = _WORD.findall(folded)
        for grams, n, what in (
            (self._rules, RULES_NGRAM, "the simulation rules"),
            (self._card, CARD_NGRAM, "the persona card"),
        ):
            shared = next((g for g in _ngrams(words, n) if g in grams), None)
            if shared is not None:
                return SimCheck(SimulatorFault.ROLE_LEAK, f"repeats {what}: {' '.join(shared)!r}")
        return None

    def _identity_drift(self, text: str, heard: str) -> SimCheck | None:
        numbers = self._numbers | {_digits(m) for m in _NUMBER.findall(heard)} if heard else self._numbers
        for match in _NUMBER.finditer(text):
            digits = _digits(match.group(0))
            if len(digits) < _MIN_ID_DIGITS:
                continue
            # Its own number, also without country code or area code.
            if not any(own.endswith(digits) for own in numbers):
                return SimCheck(SimulatorFault.IDENTITY_DRIFT, f"a number not its own: {match.group(0)!r}")
        emails = self._emails | {e.lower() for e in _EMAIL.findall(heard)} if heard else self._emails
        for email in _EMAIL.findall(text):
            if email.lower() not in emails:
                return SimCheck(SimulatorFault.IDENTITY_DRIFT, f"an e-mail not its own: {email!r}")
        for match in _NAME_CUE.finditer(text):
            name = fold(match.group(1))
            if name in _NOT_NAMES or any(name in markers for markers in _MARKERS.values()):
                continue  # "meu nome é o mesmo do cadastro": no name given
            if name not in self._names:
                return SimCheck(SimulatorFault.IDENTITY_DRIFT, f"a name not its own: {match.group(1)!r}")
        return None
