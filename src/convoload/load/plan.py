"""What a run set out to do, kept in its run.json so that even a killed run says how far it got."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(slots=True, frozen=True)
class RunPlan:
    """A fixed number of conversations, or (stress, Locust) users for a duration; None: not bounded."""

    conversations: int | None = None
    users: int | None = None
    duration_s: float | None = None
    profile: str | None = None

    def as_meta(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}
