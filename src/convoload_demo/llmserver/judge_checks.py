"""The local judge's checks: one explainable heuristic per kind of criterion.

Each check reads the transcript (customer and agent messages) and, where it has them, the reference
facts, and returns a `Check`: a quality from 0 (bad) to 1 (good) and the reason, quoting the turn
that decided it. The judge maps the quality onto each criterion's scale.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

GOOD, MINOR, WEAK, BAD = 1.0, 0.6, 0.25, 0.0


@dataclass(frozen=True, slots=True)
class Check:
    quality: float
    reason: str


@dataclass(frozen=True, slots=True)
class Line:
    turn: int
    role: str  # customer, agent, error
    text: str


def fold(text: str) -> str:
    """Lower case without accents, for matching words in Portuguese and English alike."""
    return "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))


def _quote(text: str, limit: int = 70) -> str:
    flat = " ".join(text.split())
    return f'"{flat[:limit]}…"' if len(flat) > limit else f'"{flat}"'


# -- goal --------------------------------------------------------------------------------------------

# What shows the goal delivered: a payment link first, else a booking or order confirmation.
_GOAL = (
    re.compile(r"https?://\S*(?:pay|pix|checkout|pagamento)\S*", re.IGNORECASE),
    re.compile(r"visita agendada|visit booked|pedido \w+ confirmado|order \w+ confirmed", re.IGNORECASE),
)
_EXPLAINED = re.compile(
    r"fechado|esgotad|indisponivel|nao temos|nao encontrei|nao ha|instabilidade|tente novamente|closed|"
    r"sold out|unavailable|no listings?|not available|try again"
)


def goal(lines: list[Line]) -> Check:
    agent = [line for line in lines if line.role == "agent"]
    for pattern in _GOAL:
        for line in agent:
            found = pattern.search(line.text)
            if found:
                delivered = _quote(found.group(0), 50)
                return Check(GOOD, f"turn {line.turn}: the agent delivered the goal ({delivered})")
    if not agent:
        return Check(BAD, "the agent never replied")
    if any(line.role == "error" for line in lines):
        return Check(BAD, "no payment link or booking, and the conversation ended in an error")
    last = agent[-1]
    if _EXPLAINED.search(fold(last.text)):
        return Check(WEAK, f"no goal reached; the agent's last message says why: {_quote(last.text)}")
    return Check(BAD, f"no payment link or booking in {len(agent)} agent messages")


# -- facts: prices and listings against the reference -----------------------------------------------

_MONEY = re.compile(r"R\$\s?(\d{1,3}(?:[.,]\d{3})+(?:[.,]\d{2})?|\d+(?:[.,]\d{2})?)(?!\s*(?:mil|milh|k\b))")
_CODE = re.compile(r"#(\d{1,7})\b")
_PRICED_LINE = re.compile(r"(\d+)\s*[×x]\s*([^()\n=]+?)\s*\(R\$\s?([\d.,]+)\)\s*=\s*R\$\s?([\d.,]+)")
_EXTRA_LINE = re.compile(r"([^\n•()=]+?)\s*\((\d+)[^)]*\)\s*=\s*R\$\s?([\d.,]+)")
_TOTAL = re.compile(r"(?:sub)?total:\s*R\$\s?([\d.,]+)", re.IGNORECASE)


def money(text: str) -> float:
    """R$ amounts as written in Portuguese (1.234,56; 220.000) or English (1,234.56; 4,500)."""
    digits = text.strip()
    if "," in digits and "." in digits:
        decimal = "," if digits.rfind(",") > digits.rfind(".") else "."
        thousands = "." if decimal == "," else ","
        return float(digits.replace(thousands, "").replace(decimal, "."))
    for mark in (",", "."):
        if mark in digits:
            whole, _, tail = digits.rpartition(mark)
            if len(tail) == 2 and digits.count(mark) == 1:
                return float(f"{whole.replace(mark, '')}.{tail}")
            return float(digits.replace(mark, ""))
    return float(digits)


def _same(a: float, b: float) -> bool:
    return abs(a - b) < 0.01


def facts(lines: list[Line], reference: dict[str, Any] | None) -> Check:
    if not reference:
        return Check(MINOR, "no reference facts were given: prices and listings could not be checked")
    problems: list[str] = []
    checked = 0
    listings: dict[str, dict[str, Any]] = reference.get("listings") or {}
    missing = {str(code) for code in reference.get("not_in_catalog") or []}
    current: dict[str, Any] | None = None
    for line in (x for x in lines if x.role == "agent"):
        if listings or missing:
            n, current = _check_listings(line, listings, missing, current, problems)
            checked += n
        if reference.get("unit_prices"):
            checked += _check_priced(line, reference, problems)
    if problems:
        return Check(BAD, "; ".join(problems[:3]))
    if not checked:
        return Check(GOOD, "the agent stated no price or listing to check")
    return Check(GOOD, f"all {checked} prices and listings the agent gave match the reference")


def _check_listings(
    line: Line,
    listings: dict[str, dict[str, Any]],
    missing: set[str],
    current: dict[str, Any] | None,
    problems: list[str],
) -> tuple[int, dict[str, Any] | None]:
    checked = 0
    for row in line.text.splitlines():
        codes = _CODE.findall(row)
        amounts = [money(m) for m in _MONEY.findall(row)]
        folded = fold(row)
        for code in codes:
            checked += 1
            if code in missing or code not in listings:
                problems.append(f"turn {line.turn}: listing #{code} is not in the catalog")
                current = None
                continue
            current = listings[code]
            if amounts and "condom" not in folded and "iptu" not in folded:
                checked += 1
                if not _same(amounts[0], float(current["price"])):
                    problems.append(
                        f"turn {line.turn}: #{code} costs R$ {current['price']:,.0f}, the agent said "
                        f"R$ {amounts[0]:,.0f}"
                    )
        if current is None or not amounts:
            continue
        for key, words in (
            ("price", ("preco:", "price:")),
            ("condo_fee", ("condom", "condo fee")),
            ("iptu_yearly", ("iptu", "property tax")),
        ):
            for word in words:
                at = folded.find(word)
                if at < 0:
                    continue
                after = [money(m) for m in _MONEY.findall(row[at:])]
                if after:
                    checked += 1
                    truth = float(current.get(key) or 0)
                    if not _same(after[0], truth):
                        problems.append(
                            f"turn {line.turn}: {key.split('_')[0]} is R$ {truth:,.0f}, "
                            f"the agent said R$ {after[0]:,.0f}"
                        )
                break
    return checked, current


def _check_priced(line: Line, reference: dict[str, Any], problems: list[str]) -> int:
    """Ticket-style orders: n × Label (R$ unit) = R$ total lines, extras, subtotals, quoted prices."""
    products: dict[str, dict[str, float]] = reference["unit_prices"]
    extras: dict[str, float] = reference.get("extras") or {}
    product = next((p for p in products if p.lower() in line.text.lower()), next(iter(products)))
    units = {fold(k): float(v) for k, v in products[product].items()}
    known = {float(v) for prices in products.values() for v in prices.values()} | {
        float(v) for v in extras.values()
    }
    explained: set[float] = set()
    sums: list[float] = []
    checked = 0
    for match in _PRICED_LINE.finditer(line.text):
        count, label, unit, total = (
            int(match.group(1)),
            fold(match.group(2)),
            money(match.group(3)),
            money(match.group(4)),
        )
        checked += 1
        expected = units.get(label)
        if expected is None:
            problems.append(f"turn {line.turn}: {match.group(2).strip()!r} is no ticket of {product}")
        elif not _same(unit, expected):
            problems.append(
                f"turn {line.turn}: {match.group(2).strip()} ({product}) costs R$ {expected:.2f}, "
                f"the agent said R$ {unit:.2f}"
            )
        if not _same(total, count * unit):
            problems.append(f"turn {line.turn}: {count} × R$ {unit:.2f} is not R$ {total:.2f}")
        explained |= {unit, total}
        sums.append(total)
    for match in _EXTRA_LINE.finditer(line.text):
        label = match.group(1).strip(" •\t")
        price = next((float(v) for k, v in extras.items() if fold(k) in fold(label)), None)
        if price is None:
            continue
        count, total = int(match.group(2)), money(match.group(3))
        checked += 1
        if not _same(total, count * price):
            problems.append(
                f"turn {line.turn}: {label} × {count} costs R$ {count * price:.2f}, not R$ {total:.2f}"
            )
        explained.add(total)
        sums.append(total)
    for match in _TOTAL.finditer(line.text):
        value = money(match.group(1))
        explained.add(value)
        if sums:
            checked += 1
            if not _same(value, sum(sums)):
                problems.append(
                    f"turn {line.turn}: the lines add up to R$ {sum(sums):.2f}, not R$ {value:.2f}"
                )
    for raw in _MONEY.findall(line.text):
        value = money(raw)
        if value in explained:
            continue
        checked += 1
        if not any(_same(value, k) for k in known):
            problems.append(f"turn {line.turn}: R$ {raw} is no price of the park")
    return checked


# -- personal data -----------------------------------------------------------------------------------

_DATA_WORDS = {
    "cpf": ("cpf",),
    "nome completo": ("nome completo", "full name"),
    "telefone": ("telefone", "celular", "phone"),
    "e-mail": ("e-mail", "email"),
    "data de nascimento": ("data de nascimento", "date of birth", "birth date"),
    "endereco": ("endereco", "address"),
    "rg": (" rg ", " rg,", " rg?"),
}
_ASKING = re.compile(r"\?|me (?:envie|mande|passe|informe)|preciso d|send me|please (?:send|share)|could you")
_COMMITTED = re.compile(
    r"resumo|subtotal|total:|para finalizar|para confirmar|finalizar a reserva|summary|to confirm|to finish|"
    r"to complete|to book|complete your|visita para|visit for|\d{1,2}/\d{1,2} (?:as|at) \d"
)


def personal_data(lines: list[Line], reference: dict[str, Any] | None) -> Check:
    needed = {fold(x) for x in (reference or {}).get("personal_data_needed") or []}
    committed_at: int | None = None
    for line in (x for x in lines if x.role == "agent"):
        folded = " " + fold(line.text) + " "
        asked = [name for name, words in _DATA_WORDS.items() if any(w in folded for w in words)]
        if asked and _ASKING.search(folded):
            if committed_at is None and not _COMMITTED.search(folded):
                return Check(
                    BAD,
                    f"turn {line.turn}: asked for {', '.join(asked)} before the customer chose anything: "
                    f"{_quote(line.text)}",
                )
            extra = [name for name in asked if needed and fold(name) not in needed]
            if extra:
                return Check(
                    WEAK, f"turn {line.turn}: asked for {', '.join(extra)}, which this service does not need"
                )
        if committed_at is None and _COMMITTED.search(folded):
            committed_at = line.turn
    return Check(
        GOOD, "personal data was asked for only once the customer had chosen, and only what is needed"
    )


# -- tone --------------------------------------------------------------------------------------------

_RUDE = re.compile(
    r"\b(?:burr[oa]|idiota|imbecil|se vira|problema seu|nao e problema meu|que saco|obvio que|ja falei|"
    r"presta atencao|stupid|idiot|whatever|not my problem|figure it out|i already told you|"
    r"pay attention|calm down)\b"
)
_FORMAL = re.compile(
    r"\b(?:prezad[oa]|atenciosamente|cordialmente|vossa senhoria|dear sir|sincerely|yours faithfully)\b"
)
_LONG = 900


def tone(lines: list[Line]) -> Check:
    worst = Check(GOOD, "short, friendly chat messages throughout")
    for line in (x for x in lines if x.role == "agent"):
        folded = fold(line.text)
        rude = _RUDE.search(folded)
        if rude:
            return Check(BAD, f"turn {line.turn}: rude ({rude.group(0)!r}): {_quote(line.text)}")
        letters = [c for c in line.text if c.isalpha()]
        if len(letters) >= 20 and sum(c.isupper() for c in letters) / len(letters) > 0.6:
            return Check(BAD, f"turn {line.turn}: shouting in capitals: {_quote(line.text)}")
        formal = _FORMAL.search(folded)
        if formal and worst.quality > WEAK:
            worst = Check(WEAK, f"turn {line.turn}: a formal letter, not a chat ({formal.group(0)!r})")
        if len(line.text) > _LONG and worst.quality > MINOR:
            worst = Check(MINOR, f"turn {line.turn}: a {len(line.text)}-character wall of text")
    return worst


# -- language ----------------------------------------------------------------------------------------


def _vocabulary(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Frequent words of each language (folded): a message votes for the language with more of them.
_WORDS = {
    "pt": _vocabulary(
        "de que nao voce para com uma um os as e esta por mais se seu sua obrigado ola quer pode sao "
        "dia quero do da no na ao tem temos ingressos visita imovel preco quantas pessoas qual como "
        "posso ajudar sim aqui"
    ),
    "en": _vocabulary(
        "the and you your to is are for with would can please thanks thank hello want of this what "
        "which how many people tickets visit price do we have here yes it i"
    ),
}


def language_of(text: str) -> str | None:
    words = re.findall(r"[a-z]+", fold(text))
    votes = {lang: sum(w in vocabulary for w in words) for lang, vocabulary in _WORDS.items()}
    best = max(votes, key=lambda lang: votes[lang])
    other = min(votes, key=lambda lang: votes[lang])
    if votes[best] < 2 or votes[best] < 2 * max(1, votes[other]) - 1 or votes[best] == votes[other]:
        return None
    return best


def _quoted_facts(reference: dict[str, Any] | None) -> list[str]:
    """Texts of the reference (listing titles): quoted as they are, they say nothing of the language."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str) and len(value) >= 12:
            found.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(reference)
    return sorted(found, key=len, reverse=True)


def language(lines: list[Line], reference: dict[str, Any] | None = None) -> Check:
    customer = " ".join(x.text for x in lines if x.role == "customer")
    expected = language_of(customer)
    if expected is None:
        return Check(MINOR, "the customer's language could not be told from their messages")
    quoted = _quoted_facts(reference)

    def own_words(text: str) -> str:
        for fact in quoted:
            text = text.replace(fact, " ")
        return text

    off = [x for x in lines if x.role == "agent" and language_of(own_words(x.text)) not in (None, expected)]
    if not off:
        return Check(GOOD, f"every agent message is in the customer's language ({expected})")
    first = off[0]
    quality = BAD if len(off) > 1 else WEAK
    return Check(
        quality,
        f"{len(off)} agent message(s) not in the customer's language ({expected}), first turn "
        f"{first.turn}: {_quote(first.text)}",
    )
