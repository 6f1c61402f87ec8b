"""Visit dates and times in free text, relative to "today" in São Paulo (injected for tests)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from convoload_demo.months import MONTHS
from convoload_demo.realestate.swarm.rules.text import normalize

WEEKDAYS = {
    "segunda": 0,
    "segunda feira": 0,
    "terca": 1,
    "terca feira": 1,
    "quarta": 2,
    "quarta feira": 2,
    "quinta": 3,
    "quinta feira": 3,
    "sexta": 4,
    "sexta feira": 4,
    "sabado": 5,
    "domingo": 6,
    "monday": 0,
    "tuesday": 1,
    "wednesday": 2,
    "thursday": 3,
    "friday": 4,
    "saturday": 5,
    "sunday": 6,
    "seg": 0,
    "ter": 1,
    "qua": 2,
    "qui": 3,
    "sex": 4,
    "sab": 5,
    "dom": 6,
}
_MONTH = "(" + "|".join(MONTHS) + ")"
_NUMERIC = re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})(?:/(\d{2}|\d{4}))?(?![\d/])")
_DAY_MONTH = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:de\s+|of\s+)?{_MONTH}\b")
_MONTH_DAY = re.compile(rf"\b{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?\b")
_DAY_ONLY = re.compile(r"\b(?:dia|day|the)\s+(\d{1,2})(?:st|nd|rd|th)?\b(?!\s*(?:h\b|:|am|pm|horas?))")
_WEEKDAY = re.compile(r"\b(" + "|".join(sorted(WEEKDAYS, key=len, reverse=True)) + r")\b")
_HOUR_H = re.compile(r"\b(\d{1,2})\s*(?:h|hs|hrs|horas?)(?:\s*(\d{2}))?\b")
_HOUR_COLON = re.compile(r"\b(\d{1,2}):(\d{2})\b")
_HOUR_AMPM = re.compile(r"\b(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)")
_HOUR_BARE = re.compile(r"\b(?:as|a|at|por volta das|around|pelas)\s+(\d{1,2})\b(?!\s*/)")
_AFTERNOON = re.compile(r"\b(da tarde|de tarde|da noite|in the afternoon|in the evening)\b")


@dataclass(frozen=True, slots=True)
class When:
    day: date | None = None
    hour: int | None = None
    minute: int = 0

    @property
    def empty(self) -> bool:
        return self.day is None and self.hour is None


def _future(day: int, month: int, year: int | None, today: date) -> date | None:
    try:
        if year is not None:
            return date(year if year > 100 else 2000 + year, month, day)
        candidate = date(today.year, month, day)
        # A day already past this year means next year's ("25/01" said in November).
        return candidate if candidate >= today else date(today.year + 1, month, day)
    except ValueError:
        return None


def parse_day(norm: str, today: date) -> tuple[date | None, str]:
    """The date mentioned and the text without it (so its digits are not read as an hour)."""
    if re.search(r"\b(depois de amanha|day after tomorrow)\b", norm):
        return today + timedelta(days=2), re.sub(r"depois de amanha|day after tomorrow", " ", norm)
    if re.search(r"\b(amanha|tomorrow)\b", norm):
        return today + timedelta(days=1), re.sub(r"amanha|tomorrow", " ", norm)
    if re.search(r"\b(hoje|today)\b", norm):
        return today, re.sub(r"hoje|today", " ", norm)
    for pattern, order in ((_NUMERIC, "dmy"), (_DAY_MONTH, "dM"), (_MONTH_DAY, "Md")):
        match = pattern.search(norm)
        if not match:
            continue
        if order == "dmy":
            year = int(match.group(3)) if match.group(3) else None
            found = _future(int(match.group(1)), int(match.group(2)), year, today)
        elif order == "dM":
            found = _future(int(match.group(1)), MONTHS[match.group(2)], None, today)
        else:
            found = _future(int(match.group(2)), MONTHS[match.group(1)], None, today)
        if found:
            return found, norm[: match.start()] + " " + norm[match.end() :]
    match = _WEEKDAY.search(norm.replace("-", " "))
    if match:
        # "sábado", "próxima terça", "next Monday": the next such day after today.
        ahead = (WEEKDAYS[match.group(1)] - today.weekday()) % 7 or 7
        return today + timedelta(days=ahead), norm.replace("-", " ").replace(match.group(0), " ", 1)
    match = _DAY_ONLY.search(norm)
    if match:
        day = int(match.group(1))
        month, year = today.month, today.year
        if day < today.day:
            month, year = (1, year + 1) if month == 12 else (month + 1, year)
        try:
            return date(year, month, day), norm[: match.start()] + " " + norm[match.end() :]
        except ValueError:
            return None, norm
    return None, norm


def parse_hour(norm: str) -> tuple[int, int] | None:
    """(hour, minute) in 24-hour time: '10h', '15:00', '3pm', 'às 11', 'meio-dia', '3 da tarde'."""
    if re.search(r"\b(meio dia|meio-dia|noon|midday)\b", norm):
        return 12, 0
    match = _HOUR_AMPM.search(norm)
    if match:
        hour = int(match.group(1)) % 12 + (12 if match.group(3).startswith("p") else 0)
        return hour, int(match.group(2) or 0)
    for pattern in (_HOUR_H, _HOUR_COLON, _HOUR_BARE):
        match = pattern.search(norm)
        if match:
            hour = int(match.group(1))
            minute = int(match.group(2) or 0) if pattern is not _HOUR_BARE else 0
            if hour < 12 and _AFTERNOON.search(norm[match.end() :]):
                hour += 12
            elif pattern is _HOUR_BARE and 1 <= hour <= 6:
                hour += 12  # "às 3" for a visit means 15h
            if hour <= 23 and minute <= 59:
                return hour, minute
    return None


def parse_when(text: str, today: date) -> When:
    norm = normalize(text)
    day, rest = parse_day(norm, today)
    hour = parse_hour(rest)
    return When(day, hour[0] if hour else None, hour[1] if hour else 0)
