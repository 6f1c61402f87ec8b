"""`convoload rerun`: a run's chosen conversations played again, as a new run.

Each conversation is played with its original persona (as the run played it, from its settings.json),
identity, user id, seed and user mode, against the run's target (or another one). Scripted users are
seeded as before, so they send the same messages as long as the agent replies the same; fixed users
play the same script; LLM users are answered from the replay cache, whose key is the conversation so
far, until the agent replies differently, and from then on live. Each new record names the session it
reruns (`rerun_of`) and the first turn whose user message did not follow the original's
(`diverged_at`); run.json names the original run.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from convoload.config import Config, Override, apply_overrides
from convoload.conversation.loop import run_conversation
from convoload.errors import ConfigError
from convoload.hooks.base import Hook, HookContext
from convoload.identity import Identity, IdentityFactory
from convoload.load.context import RunContext
from convoload.load.plan import RunPlan
from convoload.model import ConversationRecord
from convoload.personas import resolve_personas
from convoload.personas.model import Persona
from convoload.rerun.source import SourceRun
from convoload.signals import StopRequest
from convoload.targets.base import Session
from convoload.users.factory import build_user, playable_personas

if TYPE_CHECKING:
    from convoload.api import Execution


def diverged_at(original: ConversationRecord, rerun: ConversationRecord) -> int | None:
    """The first turn whose user message did not follow the original's: another text, one written
    live by an LLM user (not replayed from the cache), or none where the original sent one (or the
    reverse). A live LLM call that ended the conversation counts as the turn after the last one.
    None when the rerun followed the original throughout."""
    theirs, ours = original.turns, rerun.turns
    for i in range(max(len(theirs), len(ours))):
        if i >= len(theirs) or i >= len(ours):
            return i + 1
        usage = ours[i].usage
        if theirs[i].user_text != ours[i].user_text or (usage is not None and usage.llm_calls):
            return i + 1
    live_in_turns = sum(t.usage.llm_calls for t in ours if t.usage is not None)
    if rerun.usage.llm_calls > live_in_turns:  # the message that stopped it was written live
        return len(ours) + 1
    return None


@dataclass(frozen=True, slots=True)
class Play:
    """One conversation to play again."""

    original: ConversationRecord
    persona: Persona
    identity: Identity

    @property
    def index(self) -> int:
        """The original's conversation index: its seed and its fixed user's script follow from it."""
        return self.original.user_id - 1


class _MarkReruns(Hook):
    """Writes `rerun_of` and `diverged_at` on each record before it is journaled (hooks run first)."""

    name = "rerun"
    priority = "quality"

    def __init__(self, plays: dict[str, Play]) -> None:
        super().__init__()
        self._plays = plays

    def on_conversation_end(self, ctx: HookContext, record: ConversationRecord) -> None:
        play = self._plays.pop(record.session_id, None)
        if play is not None:
            record.rerun_of = play.original.session_id
            record.diverged_at = diverged_at(play.original, record)


class RerunContext(RunContext):
    """A RunContext whose conversation `i` is the i-th chosen one, played as it was."""

    def __init__(
        self, config: Config, plays: list[Play], *, personas: list[Persona], origin: dict[str, Any]
    ) -> None:
        self._plays = plays
        self._by_session: dict[str, Play] = {}
        self._origin = origin
        super().__init__(
            config,
            personas=personas,
            plan=RunPlan(conversations=len(plays)),
            hooks=[_MarkReruns(self._by_session)],
        )

    def meta(self) -> dict[str, Any]:
        return {**super().meta(), "rerun_of": self._origin}

    def converse(self, index: int) -> ConversationRecord:
        play = self._plays[index]
        spec = self.spec
        session = Session(
            session_id=uuid.uuid4().hex,
            user_id=play.original.user_id,
            persona=play.persona.name,
            identity=play.identity,
        )
        self._by_session[session.session_id] = play
        user = build_user(
            spec.config.user.type,
            play.persona,
            play.identity,
            seed=f"{spec.seed}-{play.index}",  # as RunContext.converse seeded it
            llm=self.resources.llm,
            emit=self.bus.emit,
            session_id=session.session_id,
            script=spec.script(play.index),
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


@dataclass(frozen=True, slots=True)
class RerunPlan:
    """A rerun resolved before anything starts: its config, personas and conversations."""

    source: SourceRun
    config: Config
    personas: list[Persona]
    plays: list[Play]

    def context(self) -> RerunContext:
        origin = {
            "run_id": self.source.run_id,
            "run_dir": str(self.source.run_dir.resolve()),
            "sessions": [p.original.session_id for p in self.plays],
        }
        return RerunContext(self.config, self.plays, personas=self.personas, origin=origin)


def plan_rerun(
    source: SourceRun,
    records: list[ConversationRecord],
    *,
    config_path: Path | None = None,
    out: Path | None = None,
    concurrency: int | None = None,
    replay: bool = True,
    target: list[Override] | None = None,
) -> RerunPlan:
    """Resolve a rerun of `records` (of `source`): bad input is a ConfigError, with nothing started.

    `out`: where the new run's folder goes (default: beside the original's); `replay`: LLM users
    answered from the replay cache while the conversation follows the original; `target`: overrides
    aiming the rerun elsewhere (--url, --type, --preset)."""
    config = source.config(config_path)
    seed = source.seed
    if seed is None:
        raise ConfigError(str(source.run_dir), "run.json: seed", "the run's seed is not recorded")
    runs_dir = out if out is not None else source.run_dir.resolve().parent
    size = concurrency if concurrency is not None else min(config.run.concurrency, len(records))
    overrides = [
        Override("the original run's seed", "run.seed", seed),
        Override("--runs-dir", "run.runs_dir", str(runs_dir)),
        Override("the conversations chosen", "run.conversations", len(records)),
        Override("--concurrency", "run.concurrency", size),
        Override("--replay", "llm.replay", replay),
        *(target or []),
    ]
    config = apply_overrides(config, overrides)
    if source.snapshot is not None and config_path is None:
        personas = [p.persona for p in source.snapshot.personas]
    else:
        from convoload.config import persona_specs

        specs = persona_specs(config)
        personas = playable_personas(resolve_personas(specs, config.base_dir, source=config.source), config)
    by_name = {p.name: p for p in personas}
    identities = IdentityFactory(seed)
    plays = []
    for record in records:
        persona = by_name.get(record.persona)
        if persona is None:
            known = "is not among the run's personas"
            raise ConfigError(f"session {record.session_id}", "persona", f"{record.persona!r} {known}")
        plays.append(Play(record, persona, _identity(record, identities)))
    return RerunPlan(source, config, personas, plays)


def _identity(record: ConversationRecord, identities: IdentityFactory) -> Identity:
    """The identity the conversation had: from its record, else the seed's for its index."""
    try:
        return Identity(**record.identity)
    except TypeError:  # a record without the whole identity (a custom user factory's)
        return identities.identity(record.user_id - 1)


@dataclass(slots=True)
class RerunResult:
    """A finished rerun: the new run, and each original beside its rerun (journal order)."""

    execution: Execution
    pairs: list[tuple[ConversationRecord, ConversationRecord]]


def execute_rerun(
    plan: RerunPlan,
    *,
    stop: StopRequest | None = None,
    on_start: Callable[[RunContext], None] | None = None,
) -> RerunResult:
    """Play the plan as one run, as `convoload.api.execute` plays a run: records, aggregate, report."""
    from convoload.api import Execution
    from convoload.events import ConversationFinished
    from convoload.load.engine import run_load
    from convoload.load.openfiles import ensure_open_files
    from convoload.model.report import RunReport
    from convoload.report.aggregate import journal_summaries
    from convoload.report.html import write_html_report
    from convoload.store.journal import JOURNAL_NAME

    config = plan.config
    ensure_open_files(
        min(config.run.concurrency, len(plan.plays)),
        # Webhook, platform and bundled targets (most answer through callbacks) hold a second connection.
        callbacks=config.target.type not in ("http", "python"),
        source=config.source,
        field="--concurrency",
    )
    finished: list[ConversationRecord] = []
    context = plan.context()
    try:
        context.bus.subscribe(ConversationFinished, lambda event: finished.append(event.record))
        if on_start is not None:
            on_start(context)
        result = run_load(context, len(plan.plays), config.run.concurrency, stop=stop)
        judgement = None
        if config.judge.enabled:
            from convoload.judge.runner import judge_finished_run

            judgement = judge_finished_run(config, context.run_dir, emit=context.bus.emit)
        document = context.aggregate(judgement)
        html = write_html_report(context.run_dir, document)
    finally:
        context.close()
    journal = context.run_dir / JOURNAL_NAME
    report = RunReport.from_document(
        document, run_dir=context.run_dir, conversations=lambda: journal_summaries(journal)
    )
    execution = Execution(report, context.run_dir, html, result.stats, result.interrupted, context.stopped_by)
    originals = {p.original.session_id: p.original for p in plan.plays}
    pairs = [(originals[r.rerun_of], r) for r in finished if r.rerun_of in originals]
    order = {p.original.session_id: i for i, p in enumerate(plan.plays)}
    pairs.sort(key=lambda pair: order[pair[0].session_id])
    return RerunResult(execution, pairs)
