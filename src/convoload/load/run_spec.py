"""RunSpec: what a run is, resolved from its Config before anything starts or is written.

Its id and seed, the personas and which one plays conversation N, the identities, the goal, the
hooks that judge it, where its records go and, on a Locust worker, its place in the distributed run.
Resolving one starts no server and writes nothing, so a bad config fails here with nothing to undo;
the same seed resolves to the same customers.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from convoload.bundled import BUNDLED
from convoload.config import Config, config_error, persona_specs
from convoload.conversation.goals import GoalDetector, RegexGoal, build_goal
from convoload.errors import ConfigError
from convoload.hooks.base import Hook
from convoload.hooks.factory import build_hooks, run_domains
from convoload.identity import Identity, IdentityFactory
from convoload.load.placement import IndexSpaceError, Placement
from convoload.load.plan import RunPlan
from convoload.personas import PersonaPicker, resolve_personas
from convoload.personas.model import Persona
from convoload.store.results.engine import StoreOrigin, resolve_store_url
from convoload.users.factory import playable_personas


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def runs_dir_of(config: Config) -> Path:
    runs_dir = Path(config.run.runs_dir)
    return runs_dir if runs_dir.is_absolute() else Path.cwd() / runs_dir


def run_store_url(config: Config) -> tuple[str, StoreOrigin] | None:
    """The run's results store (store.url, else $CONVOLOAD_DB_URL, else the runs folder's file), checked;
    None when the store is off."""
    if not config.store.enabled:
        return None
    return resolve_store_url(
        config.store.url,
        StoreOrigin(config.source, "store.url"),
        runs_dir=runs_dir_of(config),
        default_origin=StoreOrigin(config.source, "run.runs_dir"),
        check=True,
    )


class ConversationIndices:
    """Hands out conversation indices from `first`; up to `stop` (exclusive) when there is one."""

    def __init__(self, first: int = 0, stop: int | None = None) -> None:
        self._next = first
        self._stop = stop
        self._lock = threading.Lock()

    def claim(self) -> int:
        """A fresh index; IndexSpaceError when a worker has used up its block (identities would repeat)."""
        with self._lock:
            index = self._next
            if self._stop is not None and index >= self._stop:
                raise IndexSpaceError(
                    f"this worker has used every conversation index of its block (up to {index:,}); "
                    "raise run.worker_index_block for longer runs"
                )
            self._next += 1
        return index


@dataclass(frozen=True, slots=True)
class RunSpec:
    """One run, resolved: `RunSpec.resolve(config, ...)`. Its index counter is its only moving part."""

    config: Config
    run_id: str
    seed: int
    personas: list[Persona]
    picker: PersonaPicker
    identities: IdentityFactory
    goal: GoalDetector
    hooks: tuple[Hook, ...]  # the configured ones (in priority order), then those given as objects
    runs_dir: Path
    run_dir: Path
    store_url: tuple[str, StoreOrigin] | None  # None: no results store (also on a worker: its master's)
    started_at: str
    placement: Placement | None = None  # set on a Locust worker of a distributed run
    plan: RunPlan | None = None  # what the run set out to do (into run.json)
    indices: ConversationIndices = field(default_factory=ConversationIndices)

    @classmethod
    def resolve(
        cls,
        config: Config,
        *,
        pinned_persona: str | None = None,
        run_id: str | None = None,
        start_index: int = 0,
        personas: list[Persona] | None = None,
        placement: Placement | None = None,
        plan: RunPlan | None = None,
        hooks: Sequence[Hook] = (),
        goal: GoalDetector | None = None,
        own_user: bool = False,
    ) -> RunSpec:
        """See RunContext for the arguments; a bad config or persona is a ConfigError."""
        seed = config.run.seed if config.run.seed is not None else random.SystemRandom().randrange(2**31)
        store_url = run_store_url(config)  # a bad URL fails first
        if personas is None:
            personas = resolve_personas(persona_specs(config), base_dir=config.base_dir, source=config.source)
        personas = playable_personas(personas, config, own_user=own_user)
        try:
            picker = PersonaPicker(personas, seed=seed, pinned=pinned_persona)
        except KeyError as exc:
            raise ConfigError("--persona", "", str(exc.args[0])) from None
        runs_dir = runs_dir_of(config)
        run_id = placement.worker_run_id if placement else run_id or new_run_id()
        return cls(
            config=config,
            run_id=run_id,
            seed=seed,
            personas=personas,
            picker=picker,
            identities=IdentityFactory(seed),
            goal=goal if goal is not None else _goal(config),
            hooks=(*build_hooks(config, run_domains(config, personas)), *hooks),
            runs_dir=runs_dir,
            run_dir=placement.run_dir(runs_dir) if placement else runs_dir / run_id,
            # A worker's conversations go into the store through its master, with the whole run's.
            store_url=None if placement else store_url,
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            placement=placement,
            plan=plan,
            indices=(
                ConversationIndices(placement.first_index, placement.stop_index)
                if placement
                else ConversationIndices(start_index)
            ),
        )

    @property
    def conversation_run_id(self) -> str:
        """The run id a conversation's record carries: on a worker, the distributed run's (the
        master's), whose records they are; the worker's own id names its folder and run.json."""
        return self.placement.run_id if self.placement else self.run_id

    def persona_for(self, index: int) -> Persona:
        if self.config.run.persona_assignment == "round_robin":
            return self.picker.round_robin(index)
        return self.picker.pick(index)

    def identity(self, index: int) -> Identity:
        return self.identities.identity(index)

    def script(self, index: int) -> list[str] | None:
        """The fixed user's lines for conversation `index`, when the config gives scripts."""
        scripts = self.config.user.scripts
        return scripts[index % len(scripts)] if scripts else None

    def meta(self, *, target: dict[str, Any], llm: list[str], replay: bool) -> dict[str, Any]:
        """run.json while the run is under way; `target` and `llm` say what was started for it."""
        return {
            "run_id": self.run_id,
            "started_at": self.started_at,
            "seed": self.seed,
            "config": self.config.source,
            "target": target,
            "personas": [p.name for p in self.personas],
            "user": self.config.user.type,
            "llm": llm,
            "replay": replay,
            "goal": self.goal.description,
            "max_iterations": self.config.run.max_iterations,
            **({"cluster": self.placement.meta()} if self.placement else {}),
            **({"plan": self.plan.as_meta()} if self.plan else {}),
            "status": "running",  # until the run is aggregated: a run.json that still says so was killed
        }


def _goal(config: Config) -> GoalDetector:
    goal = config.goal
    if config.target.type == "demo" and goal.type == "link" and not goal.pattern:
        demo_goal = BUNDLED.get(config.target.demo.agent).goal
        if demo_goal:
            return RegexGoal(demo_goal)
    try:
        return build_goal(goal.type, goal.pattern, goal.function)
    except ValueError as exc:
        raise config_error(config, "goal.function", str(exc)) from None
