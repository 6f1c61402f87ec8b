"""What the rule brain remembers about one conversation (shared by its four agents)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from convoload_demo.realestate.swarm.rules.contact import Contact
from convoload_demo.realestate.swarm.rules.criteria import Criteria
from convoload_demo.realestate.swarm.rules.messages import PT


@dataclass
class VisitRequest:
    """The day/hour the customer asked for while availability is being checked."""

    day: date
    hour: int | None
    notice: str | None = None  # why the exact slot cannot be had ("closed", "past", "outside")
    probes_left: int = 5  # how many further days to look at for free slots
    found: list[datetime] = field(default_factory=list)  # free slots seen so far (offered up to 3)


@dataclass
class ConversationState:
    lang: str = PT
    criteria: Criteria = field(default_factory=Criteria)
    pending: str | None = None  # the question the customer is answering
    asked: set[str] = field(default_factory=set)
    results: list[dict[str, Any]] = field(default_factory=list)
    selected_id: int | None = None
    listing: dict[str, Any] | None = None
    request: VisitRequest | None = None
    offered: list[datetime] = field(default_factory=list)
    slot: datetime | None = None
    last_day: date | None = None
    contact: Contact = field(default_factory=Contact)
    booking: dict[str, Any] | None = None
