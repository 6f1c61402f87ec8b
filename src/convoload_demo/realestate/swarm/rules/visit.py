"""agendamento: find a free slot for the chosen listing, collect the visitor's data, book the visit."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

from convoload_demo.realestate.swarm.agents import IMOVEL
from convoload_demo.realestate.swarm.brain import BrainDecision, ToolOutcome
from convoload_demo.realestate.swarm.rules.contact import parse_contact
from convoload_demo.realestate.swarm.rules.listing import TOPICS
from convoload_demo.realestate.swarm.rules.messages import FIELD_NAMES, join, join_and, say, slot_text
from convoload_demo.realestate.swarm.rules.state import ConversationState, VisitRequest
from convoload_demo.realestate.swarm.rules.text import has, normalize
from convoload_demo.realestate.swarm.rules.when import parse_when

FIRST_HOUR, LAST_HOUR = 9, 17  # 1-hour visits starting 09:00..17:00, Monday to Saturday
MAX_OFFERS = 3
_ORDINALS = {
    "primeiro": 0,
    "primeira": 0,
    "first": 0,
    "segundo": 1,
    "second": 1,
    "terceiro": 2,
    "terceira": 2,
    "third": 2,
    "ultimo": -1,
    "ultima": -1,
    "last": -1,
}


def visit_user(state: ConversationState, text: str, entered: bool, now: datetime) -> BrainDecision:
    lang = state.lang
    if state.booking is not None:
        return BrainDecision.say(say(lang, "after", code=state.booking.get("code")))
    norm = normalize(text)
    if state.slot is not None:
        if (
            parse_contact(text).missing() == ["name", "phone", "email"]
            and not parse_when(text, now.date()).empty
        ):
            state.slot = None  # a new time instead of the data: look it up again
        else:
            return _contact_step(state, text)
    picked = _pick_offered(state, norm, now)
    if picked is not None:
        return _choose(state, picked)
    when = parse_when(text, now.date())
    if when.empty:
        if entered:
            return BrainDecision.say(say(lang, "ask_when"))
        if any(has(norm, *words) for words in TOPICS.values()):
            return BrainDecision.call(f"transfer_to_{IMOVEL}")  # a question about the listing
        key = "pick_slot" if state.offered else "ask_when"
        slots = join([slot_text(s, lang) for s in state.offered], lang)
        return BrainDecision.say(f"{say(lang, 'not_understood')} {say(lang, key, slots=slots)}")
    day = when.day or state.last_day
    if day is None:
        return BrainDecision.say(say(lang, "ask_when"))
    state.last_day = day
    if when.hour is None:
        state.request = VisitRequest(day, None, "closed" if day.weekday() == 6 else None)
        return _probe(state, day)
    wanted = datetime(day.year, day.month, day.day, when.hour, when.minute)
    notice = None
    if day.weekday() == 6:
        notice = "closed"
    elif wanted <= now:
        notice = "past"
    elif when.minute or not FIRST_HOUR <= when.hour <= LAST_HOUR:
        notice = "outside"
    state.request = VisitRequest(day, when.hour, notice)
    if notice == "past" and day < now.date():
        return _probe(state, now.date())
    return _probe(state, day)


def _probe(state: ConversationState, day: date) -> BrainDecision:
    if day.weekday() == 6:
        day += timedelta(days=1)  # nobody visits on Sundays; start looking on Monday
    return BrainDecision.call("check_availability", property_id=state.selected_id, date=day.isoformat())


def availability_result(state: ConversationState, outcome: ToolOutcome, now: datetime) -> BrainDecision:
    lang, request = state.lang, state.request
    if not outcome.ok or request is None:
        return BrainDecision.say(say(lang, "unavailable"))
    day = date.fromisoformat(str(outcome.arguments["date"]))
    free = [s for s in _slots(day, outcome.result) if s > now]
    wanted = datetime(day.year, day.month, day.day, request.hour) if request.hour is not None else None
    if request.notice is None and wanted is not None and day == request.day and wanted in free:
        return _choose(state, wanted)
    if request.hour is not None and day == request.day:
        free.sort(key=lambda s: (abs(s.hour - request.hour), s))  # closest to the wanted time first
    request.found += free[: MAX_OFFERS - len(request.found)]
    if len(request.found) < MAX_OFFERS and request.probes_left > 0:
        request.probes_left -= 1
        return _probe(state, day + timedelta(days=1))
    if not request.found:
        return BrainDecision.say(say(lang, "no_slots"))
    state.offered = sorted(request.found)
    return BrainDecision.say(_offer_text(state))


def _offer_text(state: ConversationState) -> str:
    lang, request = state.lang, state.request
    parts = []
    if request is not None and request.notice is not None:
        parts.append(say(lang, request.notice))
    elif request is not None and request.hour is not None:
        asked = datetime(request.day.year, request.day.month, request.day.day, request.hour)
        parts.append(say(lang, "taken", when=slot_text(asked, lang)))
    slots = join([slot_text(s, lang) for s in state.offered], lang)
    parts.append(say(lang, "offer", slots=slots))
    return " ".join(parts)


def _slots(day: date, result: dict[str, Any]) -> list[datetime]:
    if not result.get("open", True):
        return []
    out = []
    for value in result.get("slots") or []:
        match = re.match(r"(\d{1,2}):(\d{2})", str(value)[-5:])
        if match:
            out.append(datetime(day.year, day.month, day.day, int(match.group(1)), int(match.group(2))))
    return out


def _pick_offered(state: ConversationState, norm: str, now: datetime) -> datetime | None:
    """One of the offered slots: 'o primeiro', 'pode ser às 11h', '25/11 às 14h'."""
    if not state.offered:
        return None
    for word, index in _ORDINALS.items():
        if has(norm, word) and not re.search(r"\bsegunda\s*(feira)?\s*(as|a|at)?\s*\d", norm):
            return state.offered[index]
    when = parse_when(norm, now.date())
    if when.hour is None:
        return None
    for slot in state.offered:
        if slot.hour == when.hour and (when.day is None or when.day == slot.date()):
            return slot
    return None


def _choose(state: ConversationState, slot: datetime) -> BrainDecision:
    state.slot, state.offered, state.request = slot, [], None
    if not state.contact.missing():
        return _book(state)
    lang = state.lang
    return BrainDecision.say(f"{say(lang, 'slot_ok', when=slot_text(slot, lang))} {say(lang, 'ask_contact')}")


def _contact_step(state: ConversationState, text: str) -> BrainDecision:
    found = parse_contact(text)
    before = state.contact.missing()
    state.contact.merge(found)
    missing = state.contact.missing()
    if not missing:
        return _book(state)
    lang = state.lang
    if missing == before:
        return BrainDecision.say(f"{say(lang, 'not_understood')} {say(lang, 'ask_contact')}")
    names = join_and([FIELD_NAMES[lang][m] for m in missing], lang)
    return BrainDecision.say(say(lang, "missing", fields=names))


def _book(state: ConversationState) -> BrainDecision:
    assert state.slot is not None
    contact = state.contact
    return BrainDecision.call(
        "book_visit",
        property_id=state.selected_id,
        scheduled_at=state.slot.strftime("%Y-%m-%dT%H:%M"),
        visitor_name=contact.name,
        visitor_phone=contact.phone,
        visitor_email=contact.email,
    )


def booking_result(state: ConversationState, outcome: ToolOutcome) -> BrainDecision:
    lang = state.lang
    if outcome.ok:
        state.booking = outcome.result
        when = datetime.fromisoformat(
            str(outcome.result.get("scheduled_at") or outcome.arguments["scheduled_at"])
        )
        listing = state.listing or {}
        return BrainDecision.say(
            say(
                lang,
                "booked",
                code=outcome.result.get("code"),
                when=slot_text(when, lang),
                title=listing.get("title", ""),
                neighbourhood=listing.get("neighbourhood", ""),
            )
        )
    slot = state.slot
    state.slot = None
    alternatives = _alternatives(outcome.result.get("alternatives"), slot)
    if alternatives:
        state.offered = alternatives[:MAX_OFFERS]
        slots = join([slot_text(s, lang) for s in state.offered], lang)
        return BrainDecision.say(f"{say(lang, 'race')} {say(lang, 'offer', slots=slots)}")
    if outcome.result.get("status") == 422:
        state.contact.name = state.contact.phone = state.contact.email = None
        state.slot = slot
        return BrainDecision.say(f"{say(lang, 'not_understood')} {say(lang, 'ask_contact')}")
    if slot is not None:
        state.request = VisitRequest(slot.date(), slot.hour)
        return _probe(state, slot.date())
    return BrainDecision.say(say(lang, "ask_when"))


def _alternatives(raw: Any, slot: datetime | None) -> list[datetime]:
    """The 409's free slots, whether given as 'YYYY-MM-DDTHH:MM', 'HH:MM' or objects."""
    out: list[datetime] = []
    for item in raw or []:
        value = item
        if isinstance(item, dict):
            value = item.get("scheduled_at") or item.get("slot") or f"{item.get('date')}T{item.get('time')}"
        text = str(value)
        try:
            if "T" in text or " " in text:
                out.append(datetime.fromisoformat(text[:16]))
            elif slot is not None and re.fullmatch(r"\d{1,2}:\d{2}", text):
                hour, minute = (int(p) for p in text.split(":"))
                out.append(slot.replace(hour=hour, minute=minute))
        except ValueError:
            continue
    return out
