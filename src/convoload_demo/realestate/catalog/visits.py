"""Visit scheduling rules: one-hour visits on the hour, 09:00–17:00, Monday to Saturday, local time.

Times are naive datetimes in America/Sao_Paulo (what a visitor means by "10:00"); only ``created_at`` is
UTC. The database's unique (property, slot) constraint is the final word on conflicts.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.exc import IntegrityError

from convoload_demo.realestate.catalog.model import visits

LOCAL_TZ = ZoneInfo("America/Sao_Paulo")
FIRST_HOUR, LAST_HOUR = 9, 17  # last visit starts at 17:00
MAX_DAYS_AHEAD = 90
SLOT_FORMAT = "%Y-%m-%dT%H:%M"
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: codes are read out on the phone

Clock = Callable[[], datetime]


def local_now() -> datetime:
    """Current wall-clock time in São Paulo, naive."""
    return datetime.now(LOCAL_TZ).replace(tzinfo=None)


def is_open_day(day: date) -> bool:
    return day.weekday() != 6  # closed on Sundays


def day_slots(day: date) -> list[datetime]:
    if not is_open_day(day):
        return []
    return [datetime.combine(day, time(hour)) for hour in range(FIRST_HOUR, LAST_HOUR + 1)]


def slot_problem(when: datetime, now: datetime) -> str | None:
    """Why ``when`` cannot be booked (None when it is a valid slot)."""
    if not is_open_day(when.date()):
        return "visits are not available on Sundays"
    if when.minute or when.second or when.microsecond:
        return "visits start on the hour (e.g. 10:00)"
    if not FIRST_HOUR <= when.hour <= LAST_HOUR:
        return f"visits start between {FIRST_HOUR:02d}:00 and {LAST_HOUR:02d}:00"
    if when <= now:
        return "that time is in the past"
    if when.date() > now.date() + timedelta(days=MAX_DAYS_AHEAD):
        return f"visits can be booked at most {MAX_DAYS_AHEAD} days ahead"
    return None


def _booked(conn: Connection, property_id: int, first: date, last: date) -> set[datetime]:
    start, end = datetime.combine(first, time()), datetime.combine(last + timedelta(days=1), time())
    rows = conn.execute(
        select(visits.c.scheduled_at).where(
            visits.c.property_id == property_id,
            visits.c.status == "scheduled",
            visits.c.scheduled_at >= start,
            visits.c.scheduled_at < end,
        )
    )
    return {row[0] for row in rows}


def free_slots(conn: Connection, property_id: int, day: date, now: datetime) -> list[datetime]:
    """Bookable slots of that day: open, in the future, within the horizon, not taken."""
    candidates = [slot for slot in day_slots(day) if slot_problem(slot, now) is None]
    if not candidates:
        return []
    taken = _booked(conn, property_id, day, day)
    return [slot for slot in candidates if slot not in taken]


def alternatives(
    conn: Connection, property_id: int, when: datetime, now: datetime, limit: int = 3
) -> list[str]:
    """Up to ``limit`` free slots: the rest of that day first, then the following open days."""
    found: list[str] = []
    day = when.date()
    for _ in range(MAX_DAYS_AHEAD + 1):
        for slot in free_slots(conn, property_id, day, now):
            if slot != when:
                found.append(slot.strftime(SLOT_FORMAT))
                if len(found) == limit:
                    return found
        day += timedelta(days=1)
        if day > now.date() + timedelta(days=MAX_DAYS_AHEAD):
            break
    return found


def visit_json(row: Any) -> dict[str, Any]:
    item = dict(row._mapping)
    item["scheduled_at"] = item["scheduled_at"].strftime(SLOT_FORMAT)
    item["created_at"] = item["created_at"].replace(microsecond=0).isoformat() + "Z"
    return item


class SlotTaken(Exception):
    """The property already has a visit in that slot."""


@dataclass(frozen=True, slots=True)
class VisitRequest:
    property_id: int
    scheduled_at: datetime
    visitor_name: str
    visitor_phone: str
    visitor_email: str


def book(engine: Engine, request: VisitRequest) -> dict[str, Any]:
    """Insert the visit in its own transaction; ``SlotTaken`` when the slot is already booked."""
    for _ in range(5):  # a code collision is astronomically rare; retry rather than fail
        values = {
            "code": "VIS-" + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(6)),
            "property_id": request.property_id,
            "scheduled_at": request.scheduled_at,
            "visitor_name": request.visitor_name,
            "visitor_phone": request.visitor_phone,
            "visitor_email": request.visitor_email,
            "status": "scheduled",
            "created_at": datetime.now(UTC).replace(tzinfo=None),
        }
        try:
            with engine.begin() as conn:
                result = conn.execute(visits.insert().values(**values))
                visit = get_visit(conn, int(result.inserted_primary_key[0]))
        except IntegrityError:
            # Either the slot (unique per property) or the code collided; only the first is the caller's.
            day = request.scheduled_at.date()
            with engine.connect() as conn:
                if request.scheduled_at in _booked(conn, request.property_id, day, day):
                    raise SlotTaken from None
            continue
        assert visit is not None
        return visit
    raise RuntimeError("could not generate a unique visit code")


def get_visit(conn: Connection, visit_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(visits).where(visits.c.id == visit_id)).first()
    return visit_json(row) if row is not None else None


class SlotRelease:
    """Gives a visit's slot back ``after_s`` seconds after it was booked (the visit stays, as released).

    For the demo as a sandbox: every simulated customer of a persona wants the same listing at the same
    time, so under load a calendar that only fills would turn a stress test into a test of the calendar.
    Held briefly, racing bookings still collide and get alternatives.
    """

    def __init__(self, engine: Engine, after_s: float) -> None:
        self._engine, self.after_s = engine, after_s

    def __call__(self) -> int:
        """Release what is due; how many visits were released."""
        cutoff = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=self.after_s)
        due = (visits.c.status == "scheduled", visits.c.created_at < cutoff)
        with self._engine.connect() as conn:  # an index probe; most calls find nothing and write nothing
            if conn.execute(select(visits.c.id).where(*due).limit(1)).first() is None:
                return 0
        with self._engine.begin() as conn:
            return conn.execute(update(visits).where(*due).values(status="released")).rowcount
