"""RunContext: everything one process needs to run conversations, composed from a Config.

The composition root shared by `convoload run/demo/converse/stress`, the pipeline, the monitor,
the Python API and the locustfile. It builds three parts, in this order:

- `spec` (load/run_spec.py): what the run is (id, seed, personas, identities, goal, hooks, folder);
  resolving it starts nothing, so a bad config fails before anything needs undoing;
- `resources` (load/resources.py): what it starts (LLM chain, bundled system, target connector);
- `recorders` (load/recorders.py): what records it (hooks, journal, results store, aggregator);
  opened last because run.json says what was started.

and holds a conversation together: `converse(index)` plays one, with the event bus between them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from convoload.config import Config
from convoload.conversation.goals import GoalDetector
from convoload.conversation.loop import run_conversation
from convoload.events import EventBus
from convoload.hooks.base import Hook
from convoload.identity import Identity
from convoload.load.placement import Placement
from convoload.load.plan import RunPlan
from convoload.load.recorders import RunRecorders
from convoload.load.resources import RunResources
from convoload.load.run_spec import RunSpec, new_run_id
from convoload.model import ConversationRecord
from convoload.model.judgement import JudgementSummary
from convoload.personas.model import Persona
from convoload.targets.base import Session, Target
from convoload.users.base import SimulatedUser
from convoload.users.factory import build_user

__all__ = ["RunContext", "new_run_id"]

UserFactory = Callable[[Persona, Identity, Session], SimulatedUser]


class RunContext:
    def __init__(
        self,
        config: Config,
        *,
        pinned_persona: str | None = None,
        run_id: str | None = None,
        start_index: int = 0,
        personas: list[Persona] | None = None,
        placement: Placement | None = None,
        plan: RunPlan | None = None,
        target: Target | None = None,
        hooks: Sequence[Hook] = (),
        user_factory: UserFactory | None = None,
        goal: GoalDetector | None = None,
        resources: RunResources | None = None,
    ) -> None:
        """`personas` replaces the config's (already resolved ones, e.g. a pipeline's adjusted copies).

        `placement` makes this process one Locust worker of a distributed run: its run id, folder,
        conversation indices and receiver follow from its worker index (the seed must be the
        master's, already in `config`), and its aggregate keeps the entries the master merges.
        `plan` (what the run set out to do) goes into run.json, so that even a killed run says how
        far it got.

        `target`, `hooks`, `user_factory` and `goal` are objects standing in for the config's extension
        points (see convoload.api): the run talks to `target` instead of building one, runs `hooks`
        after the configured ones, asks `user_factory(persona, identity, session)` for each
        conversation's simulated user, and ends a conversation when `goal` finds its goal in a reply.

        `resources`: what an earlier run of this process started (see `next_run`), used as they are;
        closing this run leaves them running.
        """
        self.spec = RunSpec.resolve(
            config,
            pinned_persona=pinned_persona,
            run_id=run_id,
            start_index=start_index,
            personas=personas,
            placement=placement,
            plan=plan,
            hooks=hooks,
            goal=goal,
            own_user=user_factory is not None,
        )
        self.bus = EventBus()
        self._owns_resources = resources is None
        self.resources = resources if resources is not None else RunResources(self.spec, target=target)
        try:
            self.recorders = RunRecorders(self.spec, self.bus, self.meta())
        except BaseException:
            if self._owns_resources:
                self.resources.close()
            raise
        self.target: Target = self.resources.target  # what conversations talk to (a wrapper may replace it)
        # A target shared with earlier runs counts since it started: this run's numbers are the difference.
        self._target_base = {} if self._owns_resources else self.target.stats()
        self.stopped_by: str | None = None  # what ended the run early (a signal, the time limit)
        self._user_factory = user_factory
        self._pinned_persona = pinned_persona
        self._given_personas = personas
        self._given_hooks = tuple(hooks)
        self._given_goal = goal
        self._records_closed = False

        # The parts' pieces, under the names the context's users read.
        spec, resources, recorders = self.spec, self.resources, self.recorders
        self.config = spec.config
        self.run_id = spec.run_id
        self.seed = spec.seed
        self.started_at = spec.started_at
        self.personas = spec.personas
        self.picker = spec.picker
        self.identities = spec.identities
        self.goal = spec.goal
        self.placement = spec.placement
        self.plan = spec.plan
        self.runs_dir = spec.runs_dir
        self.run_dir = spec.run_dir
        self.bundled = resources.bundled
        self.llm = resources.llm
        self.llm_labels = resources.llm_labels
        self.aggregator = recorders.aggregator
        self.hooks = recorders.hooks
        self.journal = recorders.journal
        self.store = recorders.store
        self.store_writer = recorders.store_writer

    def meta(self) -> dict[str, Any]:
        """run.json while the run is under way."""
        resources = self.resources
        return self.spec.meta(
            target=resources.target_meta(), llm=resources.llm_labels, replay=resources.replay
        )

    # -- running ------------------------------------------------------------------------------------
    def claim_index(self) -> int:
        """A fresh conversation index: it picks the persona and the identity.

        Raises IndexSpaceError when a worker has used up its block (identities would repeat).
        """
        return self.spec.indices.claim()

    def persona_for(self, index: int) -> Persona:
        return self.spec.persona_for(index)

    def converse(self, index: int) -> ConversationRecord:
        spec = self.spec
        persona = spec.persona_for(index)
        identity = spec.identity(index)
        session = Session(
            session_id=uuid.uuid4().hex, user_id=index + 1, persona=persona.name, identity=identity
        )
        if self._user_factory is not None:
            user = self._user_factory(persona, identity, session)
        else:
            user = build_user(
                spec.config.user.type,
                persona,
                identity,
                seed=f"{spec.seed}-{index}",
                llm=self.resources.llm,
                emit=self.bus.emit,
                session_id=session.session_id,
                script=spec.script(index),
            )
        return run_conversation(
            run_id=spec.conversation_run_id,
            session=session,
            user=user,
            target=self.target,
            goal=spec.goal,
            bus=self.bus,
            max_iterations=spec.config.run.max_iterations,
            think_time=spec.config.run.think_time_s,
        )

    def next_run(
        self,
        *,
        run_id: str | None = None,
        plan: RunPlan | None = None,
        config: Config | None = None,
        placement: Placement | None = None,
    ) -> RunContext:
        """The run that follows this one in the same process (a new test in Locust's web UI): its own
        id, seed (the config's, when it fixes one), conversation indices from 0, folder, journal and
        store row, on the resources this run started (bundled system, receiver, LLM chain) and its
        target. Those stay running when either run closes; `close()` of the run that started them
        stops them. A Locust worker gives its master's `placement` for the next run (and `config`,
        with the master's seed)."""
        if (self.placement is None) != (placement is None):
            raise ValueError("a Locust worker's next run is placed by its master, and only there")
        following = RunContext(
            config or self.config,
            pinned_persona=self._pinned_persona,
            run_id=run_id,
            personas=self._given_personas,
            placement=placement,
            plan=plan,
            hooks=self._given_hooks,
            user_factory=self._user_factory,
            goal=self._given_goal,
            resources=self.resources,
        )
        following.target = self.target
        following._target_base = self.target.stats()
        return following

    # -- finishing ----------------------------------------------------------------------------------
    def stop_early(self, reason: str) -> None:
        """The run was ended before it was done (by a signal, the time limit): it is incomplete."""
        self.stopped_by = self.stopped_by or reason

    def aggregate(self, judgement: JudgementSummary | None = None) -> dict[str, Any]:
        """aggregate.json (also written, with run.json and the CSV, and into the store); `judgement`:
        the judge's summary of the run's conversations, when it judged them."""
        meta = {
            **self.meta(),
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "target_stats": self.target_stats(),
            "status": "ended",
            **({"stopped_by": self.stopped_by} if self.stopped_by else {}),
        }
        return self.recorders.aggregate(meta, llm=self.resources.llm is not None, judgement=judgement)

    def target_stats(self) -> dict[str, int]:
        """The target's counters for this run (since it started, when the target outlives runs)."""
        now = self.target.stats()
        if not self._target_base:
            return now
        return {key: value - self._target_base.get(key, 0) for key, value in now.items()}

    def close_records(self) -> None:
        """The run's records closed (store writer's last rows, journal, store); what it runs on stays
        up for a next run. Once."""
        if not self._records_closed:
            self._records_closed = True
            self.recorders.close()

    def close(self) -> None:
        """Recorders first (the last rows written), then what the run started (not what it was given)."""
        try:
            self.close_records()
        finally:
            if self._owns_resources:
                self.resources.close()
