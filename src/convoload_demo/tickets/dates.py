"""Date mentions in free text: exact dates, bare days, weeks of a month and whole months."""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from convoload_demo.months import MONTHS

_MONTH = "(" + "|".join(MONTHS) + ")"
_ORD = r"(?:st|nd|rd|th|o|a)?"
# A number right before a ticket category is a quantity ("may 2 adults"), never a day.
_NOT_QTY = r"(?!\s*(?:adult|child|kid|senior|pregnant|pcd|people|person|ticket))"

WEEK_WORDS: dict[str, int] = {
    "primeira": 1,
    "segunda": 2,
    "terceira": 3,
    "quarta": 4,
    "ultima": -1,
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "last": -1,
    "1st": 1,
    "2nd": 2,
    "3rd": 3,
    "4th": 4,
    "1a": 1,
    "2a": 2,
    "3a": 3,
    "4a": 4,
}

_NUMERIC = re.compile(r"(?<![\d/.,])(\d{1,2})/(\d{1,2})(?:/(\d{4}|\d{2}))?(?![\d/])")
_DAY_MONTH = re.compile(
    rf"(?<![\d/])(\d{{1,2}}){_ORD}\s+(?:de\s+|of\s+)?{_MONTH}\b(?:,?\s+(?:de\s+)?(\d{{4}}))?"
)
_MONTH_DAY = re.compile(rf"\b{_MONTH}\s+(\d{{1,2}}){_ORD}\b{_NOT_QTY}(?:,?\s+(\d{{4}}))?")
_WEEK = re.compile(
    r"\b("
    + "|".join(WEEK_WORDS)
    + r")\s+(?:semana|week)\s+(?:do\s+mes\s+)?(?:de|do|of|in)\s+"
    + _MONTH
    + r"\b(?:\s+(?:de\s+)?(\d{4}))?"
)
_DAY_ONLY = re.compile(
    rf"\b(?:(?:dia|day)\s+(\d{{1,2}}){_ORD}|the\s+(\d{{1,2}})(?:st|nd|rd|th))\b(?!\s*/){_NOT_QTY}"
)
_MONTH_ONLY = re.compile(
    r"\b(?:em|no\s+mes\s+de|mes\s+de|de|para|pra|in|for|during|durante)\s+"
    + _MONTH
    + r"\b(?:\s+(?:de\s+)?(\d{4}))?"
)


@dataclass(frozen=True)
class DateMention:
    """What the user said about dates; ``kind`` tells which fields are meaningful."""

    kind: Literal["exact", "day", "week", "month", "invalid"]
    day: date | None = None
    day_of_month: int | None = None
    year: int | None = None
    month: int | None = None
    week: int | None = None


def _year(raw: str | None, default: int) -> int:
    if not raw:
        return default
    value = int(raw)
    return value + 2000 if value < 100 else value


def _exact(day: int, month: int, year: int) -> DateMention:
    try:
        return DateMention("exact", day=date(year, month, day))
    except ValueError:
        return DateMention("invalid")


def find_date(norm: str, season_year: int) -> DateMention | None:
    """First date-like mention in a normalised text, most specific form first."""
    if m := _NUMERIC.search(norm):
        return _exact(int(m.group(1)), int(m.group(2)), _year(m.group(3), season_year))
    if m := _WEEK.search(norm):
        return DateMention(
            "week",
            year=_year(m.group(3), season_year),
            month=MONTHS[m.group(2)],
            week=WEEK_WORDS[m.group(1)],
        )
    if m := _DAY_MONTH.search(norm):
        return _exact(int(m.group(1)), MONTHS[m.group(2)], _year(m.group(3), season_year))
    if m := _MONTH_DAY.search(norm):
        return _exact(int(m.group(2)), MONTHS[m.group(1)], _year(m.group(3), season_year))
    if m := _DAY_ONLY.search(norm):
        value = int(m.group(1) or m.group(2))
        return DateMention("day", day_of_month=value) if 1 <= value <= 31 else DateMention("invalid")
    if m := _MONTH_ONLY.search(norm):
        return DateMention("month", year=_year(m.group(2), season_year), month=MONTHS[m.group(1)])
    return None


def bare_month(norm: str, season_year: int) -> DateMention | None:
    """A month name on its own ("novembro"), used when the context says a month is expected.

    English "may" is skipped: alone it is far more often the verb ("may I pay by card?").
    """
    if m := re.search(r"\b(?!may\b)" + _MONTH + r"\b(?:\s+(?:de\s+)?(\d{4}))?", norm):
        return DateMention("month", year=_year(m.group(2), season_year), month=MONTHS[m.group(1)])
    return None


def period_days(mention: DateMention) -> list[date]:
    """All calendar days of a week-of-month or month mention."""
    assert mention.year is not None and mention.month is not None
    last = calendar.monthrange(mention.year, mention.month)[1]
    if mention.kind == "month" or mention.week is None:
        first_day, last_day = 1, last
    elif mention.week == -1:
        first_day, last_day = last - 6, last
    else:
        first_day = 1 + 7 * (mention.week - 1)
        last_day = min(first_day + 6, last)
    return [date(mention.year, mention.month, d) for d in range(first_day, last_day + 1)]


def next_open(start: date, closed: Iterable[date]) -> date:
    """First day on or after ``start`` that is not closed."""
    closed_set = set(closed)
    day = start
    while day in closed_set:
        day += timedelta(days=1)
    return day
