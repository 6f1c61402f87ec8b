"""Assign personas to virtual users: random by weight (seedable) or pinned."""

from __future__ import annotations

import random
from collections.abc import Sequence

from convoload.personas.model import Persona
from convoload.textutil import fold


class PersonaPicker:
    """`pick(i)` depends only on (seed, i), so a rerun with the same seed gets the same cast."""

    def __init__(
        self, personas: Sequence[Persona], seed: int | None = None, pinned: str | None = None
    ) -> None:
        if not personas:
            raise ValueError("at least one persona is needed")
        self.personas = list(personas)
        self.seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
        self.pinned: Persona | None = None
        if pinned is not None:
            matches = [p for p in self.personas if p.key == fold(pinned.strip())]
            if not matches:
                known = ", ".join(p.name for p in self.personas)
                raise KeyError(f"unknown persona {pinned!r} (known: {known})")
            self.pinned = matches[0]

    def pick(self, index: int) -> Persona:
        if self.pinned is not None:
            return self.pinned
        rng = random.Random(f"convoload-persona-{self.seed}-{index}")
        return rng.choices(self.personas, weights=[p.weight for p in self.personas])[0]

    def round_robin(self, index: int) -> Persona:
        """Used by the demo so that every persona appears in a short run."""
        if self.pinned is not None:
            return self.pinned
        return self.personas[index % len(self.personas)]
