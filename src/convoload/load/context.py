"""RunContext: everything one process needs to run conversations, wired from a Config.

It is the composition root shared by `convoload run/demo/converse` and by the
locustfile: personas, identities, the target (starting the bundled demo agent
when the config asks for it), the event bus, the journal and the records.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.exc import OperationalError

from convoload.config import DEMO_GOALS, Config, config_error, persona_specs
from convoload.conversation.goals import GoalDetector, RegexGoal, build_goal
from convoload.conversation.loop import run_conversation
from convoload.conversation.records import ConversationRecord
from convoload.envsecrets import redact_value
from convoload.errors import ConfigError
from convoload.events import ConversationFinished, EventBus, LLMCalled, LLMError, LLMFallback
from convoload.hooks.base import HookRunner
from convoload.hooks.factory import build_hooks, run_domains
from convoload.identity import IdentityFactory
from convoload.llm.cache import LLMCache
from convoload.llm.factory import build_chain, needs_local_server, provider_specs
from convoload.load.placement import IndexSpaceError, Placement
from convoload.load.plan import RunPlan
from convoload.load.store_writer import StoreWriter
from convoload.personas import PersonaPicker, resolve_personas
from convoload.personas.model import Persona
from convoload.report.aggregate import Aggregator
from convoload.report.grading import assess
from convoload.report.tables import write_conversations_csv
from convoload.store.journal import AGGREGATE_NAME, META_NAME, RunJournal, write_json
from convoload.store.results import RawJSON, ResultsStore
from convoload.store.results.engine import StoreOrigin, resolve_store_url
from convoload.targets.base import Session, Target
from convoload.targets.factory import build_target
from convoload.targets.http import HttpTarget
from convoload.users.factory import build_user, check_personas
from convoload.users.llm import LLMSettings

DEMO_CHANNEL_ID = "convoload-demo"
_STORE_BUSY_RETRIES = 8
T = TypeVar("T")
log = logging.getLogger(__name__)


def _when_not_busy(action: Callable[[], T]) -> T:
    """Run a results-store action, again when SQLite says another process holds its lock.

    Workers of a distributed run on one machine open (and migrate) the same SQLite file at the
    same moment; SQLite answers one of two transactions that read, then write, with "database is
    locked" at once rather than after its busy timeout. Waiting a little and retrying resolves it.
    """
    for attempt in range(_STORE_BUSY_RETRIES):
        try:
            return action()
        except OperationalError as exc:
            if "locked" not in str(exc) or attempt == _STORE_BUSY_RETRIES - 1:
                raise
            time.sleep(random.uniform(0.02, 0.1) * 2**attempt)  # cooperative under gevent
    raise AssertionError("unreachable")


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


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
    ) -> None:
        """`personas` replaces the config's (already resolved ones, e.g. a pipeline's adjusted copies).

        `placement` makes this process one Locust worker of a distributed run: its run id, folder,
        conversation indices and receiver follow from its worker index (the seed must be the
        master's, already in `config`), and its aggregate keeps the entries the master merges.
        `plan` (what the run set out to do) goes into run.json, so that even a killed run says how
        far it got.
        """
        self.config = config
        self.placement = placement
        self.run_id = placement.worker_run_id if placement else run_id or new_run_id()
        self.seed = config.run.seed if config.run.seed is not None else random.SystemRandom().randrange(2**31)
        self._store_url = self._checked_store_url(config)  # a bad URL fails now, before anything starts
        self.personas = personas if personas is not None else self._load_personas(config)
        try:
            self.picker = PersonaPicker(self.personas, seed=self.seed, pinned=pinned_persona)
        except KeyError as exc:
            raise ConfigError("--persona", "", str(exc.args[0])) from None
        self.identities = IdentityFactory(self.seed)
        self.goal: GoalDetector = self._build_goal(config)
        self.bus = EventBus()
        # Numbers only: records live in the journal, not in memory.
        self.aggregator = Aggregator(record_entries=placement is not None)
        self.started_at = datetime.now(UTC).isoformat(timespec="seconds")
        self.plan = plan
        self.stopped_by: str | None = None  # what ended the run early (a signal, the time limit)
        self._next_index = placement.first_index if placement else start_index
        self._stop_index = placement.stop_index if placement else None
        self._index_lock = threading.Lock()
        self._resources = ExitStack()
        self.demo_url: str | None = None
        self.demo_components: dict[str, str] = {}
        self.llm: LLMSettings | None = None
        self.llm_labels: list[str] = []
        try:
            if config.user.type in ("llm", "mixed"):  # scripted and fixed users need no model
                self.llm = self._build_llm(config)
            self.target: Target = self._build_target(config)
        except BaseException:
            self._resources.close()  # e.g. stop the demo server we may already have started
            raise
        self._resources.callback(self.target.close)
        self.runs_dir = self._runs_dir(config)
        self.run_dir = placement.run_dir(self.runs_dir) if placement else self.runs_dir / self.run_id
        self._graded = False
        try:  # the database first: one that cannot be opened leaves no run folder behind
            self.store = self._open_store()
        except BaseException:
            self._resources.close()
            raise
        self.journal = RunJournal(self.run_dir, meta=self.meta())
        self._resources.callback(self.journal.close)
        self.store_writer = StoreWriter(self.store, self.run_id) if self.store is not None else None
        if self.store_writer is not None:  # closed (its last rows written) before the store
            self._resources.callback(self.store_writer.close)
        # Hooks first: their findings must be on a record before it is journaled.
        self.hooks = HookRunner(self.bus, build_hooks(config, run_domains(config, self.personas)))
        self.bus.subscribe(ConversationFinished, self._on_finished)
        self.bus.subscribe(LLMCalled, self._on_llm_call)
        self.bus.subscribe(
            LLMFallback,
            lambda e: self.aggregator.add_llm_fallback(f"{e.from_provider} -> {e.to_provider} ({e.reason})"),
        )
        self.bus.subscribe(LLMError, lambda e: self.aggregator.add_llm_error(e.provider, e.kind))

    # -- building -----------------------------------------------------------------------------------
    @staticmethod
    def _load_personas(config: Config) -> list[Persona]:
        personas = resolve_personas(persona_specs(config), base_dir=config.base_dir, source=config.source)
        problems = check_personas(personas)
        if problems:
            source, field, message = problems[0].split(": ", 2)
            raise ConfigError(source, field, message)
        return personas

    @staticmethod
    def _build_goal(config: Config) -> GoalDetector:
        goal = config.goal
        if config.target.type == "demo" and goal.type == "link" and not goal.pattern:
            demo_goal = DEMO_GOALS[config.target.demo.agent]
            if demo_goal:
                return RegexGoal(demo_goal)
        try:
            return build_goal(goal.type, goal.pattern, goal.function)
        except ValueError as exc:
            raise config_error(config, "goal.function", str(exc)) from None

    def _build_target(self, config: Config) -> Target:
        placed: dict[str, Any] = {}
        if self.placement is not None:
            placed = {
                "worker_index": self.placement.worker_index,
                "callback_base": self.placement.callback_base,
            }
        if config.target.type != "demo":
            return build_target(config, **placed)
        if config.target.demo.agent == "realestate":
            return self._start_realestate(config)
        from convoload_demo.tickets.launcher import DemoTicketServer
        from convoload_demo.tickets.settings import TicketServerSettings

        demo = config.target.demo
        settings = TicketServerSettings(
            reply_delay_s=demo.reply_delay_s,
            jitter_s=demo.jitter_s,
            split_messages=demo.split_messages,
            seed=self.seed,
            signature=config.target.receiver.signature,  # the bundled agent signs as our receiver expects
        )
        server = DemoTicketServer(settings)
        self._resources.enter_context(server)
        self.demo_url = server.url
        return build_target(
            config, url=server.widget_url, variables={"channel_id": DEMO_CHANNEL_ID}, **placed
        )

    def _start_realestate(self, config: Config) -> Target:
        """The catalog API and the swarm assistant, as two real servers; conversations go to /api/chat."""
        from convoload_demo.realestate.assistant.launcher import AssistantServer
        from convoload_demo.realestate.assistant.settings import DEFAULT_LLM_CHAIN, AssistantSettings
        from convoload_demo.realestate.catalog.launcher import CatalogServer
        from convoload_demo.realestate.catalog.settings import SANDBOX_RELEASE_S, CatalogSettings

        demo = config.target.demo
        catalog = self._resources.enter_context(
            CatalogServer(CatalogSettings(listings=demo.listings, release_visits_after_s=SANDBOX_RELEASE_S))
        )
        brain = demo.brain
        if brain == "auto":
            brain = "llm" if os.environ.get("OPENROUTER_API_KEY") else "rules"
        llm = DEFAULT_LLM_CHAIN if brain == "llm" else ()
        assistant = self._resources.enter_context(
            AssistantServer(AssistantSettings(catalog_url=catalog.url, brain=brain, llm=llm))
        )
        self.demo_url = assistant.url
        self.demo_components = {"catalog": catalog.url, "assistant": assistant.url, "brain": brain}
        body = {"session_id": "{session_id}", "message": "{text}"}
        return HttpTarget(
            assistant.chat_url,
            body=body,
            reply_path="reply",
            agent_path="agent",
            timeout_s=config.target.timeout_s,
        )

    def _build_llm(self, config: Config) -> LLMSettings:
        specs = provider_specs(config)
        if needs_local_server(specs):
            from convoload_demo.llmserver.launcher import LocalLLMServer

            server = self._resources.enter_context(LocalLLMServer())
            specs = provider_specs(config, local_base_url=server.base_url)
        self.llm_labels = [s.label for s in specs]
        chain = build_chain(config, specs)
        self._resources.callback(chain.close)
        cache = None
        if config.llm.cache_path:
            path = Path(config.llm.cache_path)
            cache = LLMCache(path if path.is_absolute() else Path.cwd() / path)
            self._resources.callback(cache.close)
        params = {"temperature": config.llm.temperature, "max_tokens": config.llm.max_tokens}
        return LLMSettings(
            chain=chain, cache=cache, replay=config.llm.replay, retries=config.llm.user_retries, params=params
        )

    def meta(self) -> dict[str, Any]:
        target = self.config.target
        return {
            "run_id": self.run_id,
            "started_at": self.started_at,
            "seed": self.seed,
            "config": self.config.source,
            "target": {
                "type": target.type,
                "url": redact_value(self.demo_url or target.url or target.function),
            },
            "personas": [p.name for p in self.personas],
            "user": self.config.user.type,
            "llm": self.llm_labels,
            "replay": self.config.llm.replay if self.llm else False,
            "goal": self.goal.description,
            "max_iterations": self.config.run.max_iterations,
            **({"cluster": self.placement.meta()} if self.placement else {}),
            **({"plan": self.plan.as_meta()} if self.plan else {}),
            "status": "running",  # until aggregate(): a run.json that still says so was killed
        }

    # -- running ------------------------------------------------------------------------------------
    def claim_index(self) -> int:
        """A fresh conversation index: it picks the persona and the identity.

        Raises IndexSpaceError when a worker has used up its block (identities would repeat).
        """
        with self._index_lock:
            index = self._next_index
            if self._stop_index is not None and index >= self._stop_index:
                raise IndexSpaceError(
                    f"this worker has used every conversation index of its block (up to {index:,}); "
                    "raise run.worker_index_block for longer runs"
                )
            self._next_index += 1
        return index

    def persona_for(self, index: int) -> Persona:
        if self.config.run.persona_assignment == "round_robin":
            return self.picker.round_robin(index)
        return self.picker.pick(index)

    def converse(self, index: int) -> ConversationRecord:
        persona = self.persona_for(index)
        identity = self.identities.identity(index)
        session = Session(
            session_id=uuid.uuid4().hex, user_id=index + 1, persona=persona.name, identity=identity
        )
        user = build_user(
            self.config.user.type,
            persona,
            identity,
            seed=f"{self.seed}-{index}",
            llm=self.llm,
            emit=self.bus.emit,
            session_id=session.session_id,
            script=self._script(index),
        )
        return run_conversation(
            run_id=self.run_id,
            session=session,
            user=user,
            target=self.target,
            goal=self.goal,
            bus=self.bus,
            max_iterations=self.config.run.max_iterations,
            think_time=self.config.run.think_time_s,
        )

    def _script(self, index: int) -> list[str] | None:
        scripts = self.config.user.scripts
        return scripts[index % len(scripts)] if scripts else None

    def _on_llm_call(self, event: LLMCalled) -> None:
        self.aggregator.add_llm_call(
            f"{event.provider}/{event.model}",
            latency_ms=event.latency_ms,
            from_cache=event.from_cache,
            prompt_tokens=event.prompt_tokens,
            completion_tokens=event.completion_tokens,
            cached_tokens=event.cached_tokens,
            cost_usd=event.cost_usd,
            attempts=event.attempts,
        )

    @staticmethod
    def _runs_dir(config: Config) -> Path:
        runs_dir = Path(config.run.runs_dir)
        return runs_dir if runs_dir.is_absolute() else Path.cwd() / runs_dir

    @staticmethod
    def _checked_store_url(config: Config) -> tuple[str, StoreOrigin] | None:
        """The store's URL (store.url, else $CONVOLOAD_DB_URL, else the runs folder's file), checked."""
        if not config.store.enabled:
            return None
        return resolve_store_url(
            config.store.url,
            StoreOrigin(config.source, "store.url"),
            runs_dir=RunContext._runs_dir(config),
            default_origin=StoreOrigin(config.source, "run.runs_dir"),
            check=True,
        )

    def _open_store(self) -> ResultsStore | None:
        if self._store_url is None:
            return None
        url, origin = self._store_url
        store = _when_not_busy(lambda: ResultsStore(url, background_checkpoints=True, origin=origin))
        self._resources.callback(store.close)
        _when_not_busy(lambda: store.start_run(self.run_id, self.meta()))
        return store

    def _on_finished(self, event: ConversationFinished) -> None:
        line = self.journal.append(event.record)  # first: the journal is the record of truth
        self.aggregator.add(event.record)
        if self.store_writer is not None:
            self.store_writer.add(event.record, RawJSON(line[:-1].decode()))

    # -- finishing ----------------------------------------------------------------------------------
    def stop_early(self, reason: str) -> None:
        """The run was ended before it was done (by a signal, the time limit): it is incomplete."""
        self.stopped_by = self.stopped_by or reason

    def aggregate(self) -> dict[str, Any]:
        meta = {
            **self.meta(),
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "target_stats": self.target.stats(),
            "status": "ended",
            **({"stopped_by": self.stopped_by} if self.stopped_by else {}),
        }
        document = self.aggregator.document(meta)
        summary = document["summary"]
        ended_well = summary["completion"]["complete"] and not summary["interrupted_conversations"]
        document["run"]["status"] = "finished" if ended_well else "interrupted"
        document["assessment"] = assess(document)
        # Built from redacted records; this catches the rest (the target's URL, LLM errors) for the
        # store, the files and the terminal alike.
        document = redact_value(document)
        if self.store is not None:
            status = document["run"]["status"]
            if self.store_writer is not None:
                self.store_writer.flush()  # the run's row is finished after its conversations
            try:
                self.store.finish_run(self.run_id, document["summary"], status=status)
                if not self._graded:  # aggregate() may run more than once (Locust's test_stop, then quitting)
                    self._graded = True
                    self.store.add_grade(
                        self.run_id,
                        "run",
                        document["assessment"]["grade"],
                        document["summary"]["success_rate"],
                        document["latency"]["turn_ms"].get("p95"),
                        document["assessment"],
                    )
            except Exception:
                log.exception("results store: could not finish run %s", self.run_id)
        if self.llm is not None:  # said even when no call was made
            document["summary"]["llm"].setdefault("by_provider", {})
            document["summary"]["llm"].setdefault("fallbacks", {})
            document["summary"]["llm"].setdefault("errors", {})
        write_json(self.run_dir / AGGREGATE_NAME, document)
        write_json(self.run_dir / META_NAME, document["run"])  # how the run ended, for `convoload report`
        write_conversations_csv(self.run_dir, document)
        return document

    def close(self) -> None:
        self._resources.close()
