"""The fault plan: which requests the faulty target breaks, and how.

Kept free of FastAPI so the launcher, the settings and the tests can use it without the server.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Api = Literal["chat", "webhook"]
FaultKind = Literal[
    "status",
    "stall",
    "malformed",
    "empty",
    "drop",
    "oversized",
    "no_callback",
    "duplicate",
    "late",
    "forged",
    "split",
]
# Faults that only exist where a reply travels as a callback.
WEBHOOK_ONLY: frozenset[str] = frozenset({"no_callback", "duplicate", "late", "forged"})
# On the webhook API these hit the acknowledgement; the others hit the callback.
ACK_FAULTS: frozenset[str] = frozenset({"status", "stall", "drop"})


class Fault(BaseModel):
    """One kind of failure and the turns it hits.

    Selectors (all that are set must match; none set = every turn): `every` N-th conversation or the
    listed `conversations` (numbered in the order they first reached the server), `turn` K of a
    conversation, a seeded `rate` per turn; `times` caps the injections; `api` limits the fault to
    one of the two APIs.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: FaultKind
    api: Api | None = Field(None, description="Only this API; None = both.")
    every: int | None = Field(None, ge=1, description="Every N-th conversation (1 = all).")
    conversations: tuple[int, ...] | None = Field(None, description="Only these conversations (1-based).")
    turn: int | None = Field(None, ge=1, description="Only the K-th message of a conversation.")
    rate: float | None = Field(None, ge=0, le=1, description="Probability per turn, seeded.")
    times: int | None = Field(None, ge=1, description="At most this many injections.")
    status: int = Field(500, ge=400, le=599, description="status: the HTTP status answered.")
    seconds: float = Field(30.0, ge=0, description="stall: longest hold; late: delay of the callback.")
    size_bytes: int = Field(5 * 1024 * 1024, ge=1, description="oversized: size of the reply text.")
    copies: int = Field(2, ge=2, description="duplicate: how often the same callback is sent.")
    parts: int = Field(2, ge=2, description="split: messages the reply is cut into, inside its link.")
    mode: Literal["secret", "path", "stolen", "replay"] = Field(
        "secret",
        description="forged: a wrong token, a wrong path, another conversation's token (stolen), or "
        "the URL of this conversation's previous turn (replay).",
    )
    withhold: bool = Field(True, description="forged: keep the genuine callback back.")

    @model_validator(mode="after")
    def _kind_fits_api(self) -> Fault:
        if self.kind in WEBHOOK_ONLY and self.api == "chat":
            raise ValueError(f"fault {self.kind!r} only exists on the webhook API")
        return self

    def applies_to(self, api: Api) -> bool:
        if self.api is not None and self.api != api:
            return False
        return api == "webhook" or self.kind not in WEBHOOK_ONLY

    def selects(self, conversation: int, turn: int, session_id: str, seed: int, position: int) -> bool:
        if self.every is not None and conversation % self.every != 0:
            return False
        if self.conversations is not None and conversation not in self.conversations:
            return False
        if self.turn is not None and turn != self.turn:
            return False
        if self.rate is not None:
            # Seeded by the turn itself, so a rerun breaks the same turns whatever the interleaving.
            draw = random.Random(f"{seed}:{position}:{session_id}:{turn}").random()
            if draw >= self.rate:
                return False
        return True


class FaultPlan:
    """The faults in order; each turn gets the first one that applies to it and is not used up."""

    def __init__(self, faults: Iterable[Fault] = (), seed: int = 0) -> None:
        self.faults = list(faults)
        self.seed = seed
        self._used = [0] * len(self.faults)

    def pick(self, api: Api, conversation: int, turn: int, session_id: str) -> Fault | None:
        for position, fault in enumerate(self.faults):
            if not fault.applies_to(api):
                continue
            if fault.times is not None and self._used[position] >= fault.times:
                continue
            if fault.selects(conversation, turn, session_id, self.seed, position):
                self._used[position] += 1
                return fault
        return None


def parse_fault(text: str) -> Fault:
    """A fault from the command line: a JSON object, or `kind,key=value,...` (values read as JSON).

    >>> parse_fault("status,every=3,turn=2,status=503").status
    503
    """
    text = text.strip()
    if text.startswith("{"):
        return Fault.model_validate_json(text)
    kind, *pairs = [part.strip() for part in text.split(",") if part.strip()]
    fields: dict[str, Any] = {"kind": kind}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"{pair!r}: expected key=value")
        try:
            fields[key.strip()] = json.loads(value)
        except ValueError:
            fields[key.strip()] = value.strip()  # a bare word, e.g. mode=path
    return Fault.model_validate(fields)
