"""Visitor data in free text: full name, phone and e-mail."""

from __future__ import annotations

import re
from dataclasses import dataclass

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"\+?\d[\d\s().-]{7,}\d")
_LABELLED_NAME = re.compile(
    r"(?:nome(?: completo)?|name|full name|meu nome e|meu nome é|my name is|me chamo|sou o|sou a|i am|i'm)"
    r"\s*[:=-]?\s*([^\n,;|]+)",
    re.IGNORECASE,
)
_CAPITALISED = re.compile(
    r"\b([A-ZÀ-Ý][a-zà-ÿ'’]+(?:[ \t]+(?:(?:da|de|do|dos|das|e|van|von|del)[ \t]+)?[A-ZÀ-Ý][a-zà-ÿ'’]+)+)"
)
# Capitalised words that start sentences rather than names.
_NOT_NAMES = {
    "Meu",
    "Minha",
    "Olá",
    "Ola",
    "Oi",
    "Sim",
    "Claro",
    "Pode",
    "Segue",
    "Seguem",
    "Nome",
    "Telefone",
    "Email",
    "E-mail",
    "My",
    "Hi",
    "Hello",
    "Sure",
    "Yes",
    "Here",
    "Name",
    "Phone",
    "Ok",
    "Certo",
    "Obrigado",
    "Obrigada",
    "Thanks",
    "Perfeito",
    "Great",
    "Bom",
    "Boa",
    "Dia",
    "Tarde",
    "Noite",
}
_STOP_LABEL = re.compile(r"\s*(?:telefone|tel|fone|celular|phone|e-?mail|whats(?:app)?)\b.*$", re.IGNORECASE)


@dataclass
class Contact:
    name: str | None = None
    phone: str | None = None
    email: str | None = None

    def merge(self, other: Contact) -> None:
        self.name = other.name or self.name
        self.phone = other.phone or self.phone
        self.email = other.email or self.email

    def missing(self) -> list[str]:
        return [key for key in ("name", "phone", "email") if not getattr(self, key)]


def _clean_name(raw: str) -> str | None:
    raw = _STOP_LABEL.sub("", raw)
    raw = _EMAIL.sub(" ", raw)
    raw = _PHONE.sub(" ", raw)
    name = " ".join(raw.replace(".", " ").split()).strip(" -:")
    words = name.split()
    return name if len(words) >= 2 and all(w[0].isalpha() for w in words) else None


def parse_contact(text: str) -> Contact:
    contact = Contact()
    email = _EMAIL.search(text)
    if email:
        contact.email = email.group(0)
    without_email = _EMAIL.sub(" ", text)
    for match in _PHONE.finditer(without_email):
        digits = re.sub(r"\D", "", match.group(0))
        if 10 <= len(digits) <= 13:
            contact.phone = ("+" if match.group(0).startswith("+") else "") + digits
            break
    labelled = _LABELLED_NAME.search(without_email)
    if labelled:
        contact.name = _clean_name(labelled.group(1))
    if contact.name is None:
        for match in _CAPITALISED.finditer(_PHONE.sub(" ", without_email)):
            words = match.group(1).split()
            while words and words[0] in _NOT_NAMES:
                words = words[1:]
            if len(words) >= 2:
                contact.name = " ".join(words)
                break
    return contact
