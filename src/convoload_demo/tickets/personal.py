"""Personal data (name, CPF, phone, e-mail) found in free text, labelled or not."""

from __future__ import annotations

import re
from dataclasses import dataclass

from validate_docbr import CPF

from convoload_demo.tickets.text import normalize

_CPF_VALIDATOR = CPF()

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_CPF_LABELLED = re.compile(r"\bcpf\b[^\d@\n]{0,12}?(\d[\d.\-\s]*\d)", re.I)
_CPF_SHAPE = re.compile(r"\d{3}\.?\d{3}\.?\d{3}-?\d{2}")
_CPF_FORMATTED = re.compile(r"(?<![\d.])(?:\d{3}\.\d{3}\.\d{3}-\d{2}|\d{9}-\d{2})(?!\d)")
_BARE_11 = re.compile(r"(?<![\d+.\-])\d{11}(?![\d.\-])")
_PHONE_LABEL = r"\b(?:telefone|tel|celular|cel|fone|whats(?:app)?|zap|phone|mobile|cell(?:phone)?)\b"
_PHONE_LABELLED = re.compile(_PHONE_LABEL + r"[^\d+@\n]{0,12}?(\+?[\d(][\d\s().\-]*\d)", re.I)
_PHONE = re.compile(
    r"(?<![\d])(?:\+?\s?55[\s.\-]?)?\(?[1-9]{2}\)?[\s.\-]?(?:9[\s.]?)?\d{4}[\s.\-]?\d{4}(?!\d)"
)
_NAME_LABELLED = re.compile(
    r"(?:meu\s+nome\s+(?:completo\s+)?(?:é|e|eh)|me\s+chamo|nome\s+completo\s*(?:é|e)?\s*[:\-=]?"
    r"|\bnome\s*[:\-=]|my\s+(?:full\s+)?name\s+is|(?:full\s+)?\bname\s*[:\-=])\s*([^\n]*)",
    re.I,
)
# Self-introductions that only count when followed by a capitalised name ("sou a Ana", "I'm Bob").
_NAME_INTRO = re.compile(r"(?:\bsou\s+(?:o|a)|\bi\s*'?\s*m|\bi\s+am|\bnome)\s+([^\n]*)", re.I)

_PARTICLES = {"da", "de", "do", "das", "dos", "e", "di", "del", "van", "von"}
_STOP = {
    "cpf",
    "telefone",
    "tel",
    "celular",
    "cel",
    "fone",
    "email",
    "e-mail",
    "meu",
    "minha",
    "my",
    "phone",
    "whatsapp",
    "whats",
    "zap",
    "mobile",
    "and",
    "com",
    "with",
    "pix",
    "cartao",
    "card",
}
_NAME_TOKEN = re.compile(r"^[^\W\d_]+(?:['\-][^\W\d_]+)*$")


@dataclass
class PersonalData:
    """Fields found in one message; ``None`` means "not mentioned"."""

    name: str | None = None
    cpf: str | None = None
    cpf_invalid: str | None = None
    phone: str | None = None
    phone_invalid: str | None = None
    email: str | None = None
    email_invalid: bool = False

    @property
    def found_any(self) -> bool:
        return any(
            (
                self.name,
                self.cpf,
                self.cpf_invalid,
                self.phone,
                self.phone_invalid,
                self.email,
                self.email_invalid,
            )
        )


def digits_of(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def format_cpf(digits: str) -> str:
    return f"{digits[:3]}.{digits[3:6]}.{digits[6:9]}-{digits[9:]}"


def _phone_digits(raw: str) -> str | None:
    """National number (DDD + 8/9 digits) or None when it cannot be a Brazilian phone."""
    digits = digits_of(raw)
    if len(digits) in (12, 13) and digits.startswith("55"):
        digits = digits[2:]
    if len(digits) not in (10, 11) or digits[0] == "0" or digits[1] == "0":
        return None
    if len(digits) == 11 and digits[2] != "9":
        return None
    return digits


def format_phone(digits: str) -> str:
    return f"({digits[:2]}) {digits[2:-4]}-{digits[-4:]}"


def _blank(text: str, start: int, end: int) -> str:
    # Keep offsets stable and leave a separator so neighbouring words do not merge.
    return text[:start] + "," + " " * (end - start - 1) + text[end:]


def _set_cpf(data: PersonalData, raw: str) -> None:
    digits = digits_of(raw)
    if len(digits) == 11 and _CPF_VALIDATOR.validate(digits):
        data.cpf, data.cpf_invalid = digits, None
    elif data.cpf is None:
        data.cpf_invalid = raw.strip()


def _name_from_tokens(raw: str, *, need_capital: bool) -> str | None:
    tokens = raw.split()
    picked: list[str] = []
    for i, token in enumerate(tokens):
        clean = token.strip(".,;:!?()\"'")
        ends_clause = clean != token.rstrip("()\"'") and token[-1:] in ",;:.!?"
        low = normalize(clean)
        if not clean or not _NAME_TOKEN.match(clean) or low in _STOP:
            break
        if low in ("e", "and"):
            following = tokens[i + 1] if i + 1 < len(tokens) else ""
            if low == "and" or not following[:1].isupper() or normalize(following) in _STOP:
                break
        picked.append(clean)
        if ends_clause:
            break
    while picked and normalize(picked[-1]) in _PARTICLES:
        picked.pop()
    if len(picked) < 2 or (need_capital and not picked[0][:1].isupper()):
        return None
    if all(p.islower() for p in picked):
        picked = [p if p in _PARTICLES else p.capitalize() for p in picked]
    return " ".join(picked)


def _capitalised_segment(text: str) -> str | None:
    """A comma/line separated segment that looks like a full name ("Ana Maria Souza")."""
    for segment in re.split(r"[\n,;|!?]|\.\s|\s-\s", text):
        tokens = segment.strip().strip(".!").split()
        if not 2 <= len(tokens) <= 7 or any(ch.isdigit() for ch in segment):
            continue
        ok = all(
            _NAME_TOKEN.match(t) and (t[0].isupper() or t in _PARTICLES) and normalize(t) not in _STOP
            for t in tokens
        )
        if ok and tokens[0][0].isupper() and tokens[-1][0].isupper():
            return " ".join(tokens)
    return None


def extract_personal(text: str, *, look_for_bare_name: bool) -> PersonalData:
    """Find personal data in ``text``; bare capitalised names only when ``look_for_bare_name``."""
    data = PersonalData()
    work = text
    if m := _EMAIL.search(work):
        data.email = m.group(0)
        work = _blank(work, m.start(), m.end())
    elif "@" in work:
        data.email_invalid = True

    if m := _CPF_LABELLED.search(work):
        raw = m.group(1)
        shape = _CPF_SHAPE.match(raw)
        if shape and len(digits_of(raw)) > 11:
            raw = shape.group(0)
        _set_cpf(data, raw)
        work = _blank(work, m.start(), m.start(1) + len(raw))
    if m := _PHONE_LABELLED.search(work):
        phone = _phone_digits(m.group(1))
        if phone:
            data.phone = phone
        else:
            data.phone_invalid = m.group(1).strip()
        work = _blank(work, m.start(), m.end())
    for m in _CPF_FORMATTED.finditer(work):
        if data.cpf is None:
            _set_cpf(data, m.group(0))
        work = _blank(work, m.start(), m.end())
    for m in _BARE_11.finditer(work):
        # An unlabelled 11-digit number is a CPF when its check digits say so, else maybe a mobile.
        raw = m.group(0)
        if data.cpf is None and _CPF_VALIDATOR.validate(raw):
            data.cpf, data.cpf_invalid = raw, None
        elif data.phone is None and _phone_digits(raw):
            data.phone = _phone_digits(raw)
        elif data.cpf is None:
            data.cpf_invalid = raw
        work = _blank(work, m.start(), m.end())
    if data.phone is None:
        for m in _PHONE.finditer(work):
            phone = _phone_digits(m.group(0))
            if phone:
                data.phone = phone
                work = _blank(work, m.start(), m.end())
                break

    if m := _NAME_LABELLED.search(work):
        data.name = _name_from_tokens(m.group(1), need_capital=False)
    if data.name is None and (m := _NAME_INTRO.search(work)):
        data.name = _name_from_tokens(m.group(1), need_capital=True)
    if data.name is None and (look_for_bare_name or data.found_any):
        data.name = _capitalised_segment(work)
    return data
