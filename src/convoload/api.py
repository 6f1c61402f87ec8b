"""The Python API: `run`, `stress`, `capacity` and `converse`, which the CLI calls too.

    import convoload

    report = convoload.run("convoload.yaml", conversations=20, concurrency=5)
    assert report.success_rate >= 0.9, report.assessment.recommendations

A keyword is applied the way the matching CLI flag is: the config is validated again as a whole, and
a bad value raises `ConfigError` naming the keyword (`conversations=`). Objects may stand in for the
config's extension points: `target=MyTarget()`, `hooks=[MyHook()]`, `user=make_user` (called with
the persona, identity and session of each conversation, it returns the `SimulatedUser`),
`goal=MyGoal()` (called with a reply's messages, it returns a `GoalHit` or None) and
`personas=[Persona(...)]` (played instead of the config's).

These functions install no signal handler and print nothing: pass a `StopRequest` to end a run early
(its records are complete, its report says it was stopped), and `on_event` to follow it live.
The run's files (journal, conversations, aggregate.json, report.html, the results store) are written
as by the CLI; `report.run_dir` is the run's folder.
"""

from __future__ import annotations

from gevent import monkey

# Runs hold their conversations in gevent greenlets under Locust's runner: patch before anything
# else of ours imports ssl or socket (as the CLI and Locust do).
monkey.patch_all()

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

from convoload.config import PLATFORM_TYPES, Config, Override, apply_overrides, load_config
from convoload.conversation.goals import GoalDetector
from convoload.events import ConversationFinished, Event
from convoload.hooks.base import Hook
from convoload.identity import Identity
from convoload.model import ConversationRecord
from convoload.model.report import RunReport
from convoload.personas.model import Persona
from convoload.report.aggregate import journal_summaries
from convoload.signals import StopRequest
from convoload.store.journal import JOURNAL_NAME
from convoload.targets.base import Session, Target
from convoload.users.base import SimulatedUser

if TYPE_CHECKING:
    from locust.stats import RequestStats

    from convoload.load.context import RunContext
    from convoload.load.shapes import ProfileShape
    from convoload.model.capacity import CapacityResult

ConfigLike = Config | str | PathLike[str] | None
UserFactory = Callable[[Persona, Identity, Session], SimulatedUser]

# Keyword -> config field, for the keywords every entry point shares.
_FIELDS = {
    "conversations": "run.conversations",
    "concurrency": "run.concurrency",
    "seed": "run.seed",
    "runs_dir": "run.runs_dir",
    "max_iterations": "run.max_iterations",
    "judge": "judge.enabled",
}


def load(config: ConfigLike = None, **keywords: Any) -> Config:
    """A validated Config from a Config, a file path or None (the embedded default), keywords over it.

    Keywords are the names in `run`'s signature that set config fields (conversations, concurrency,
    seed, runs_dir, max_iterations, judge); None leaves the field as it is.
    """
    base = config if isinstance(config, Config) else load_config(None if config is None else Path(config))
    overrides = []
    for name, value in keywords.items():
        if name not in _FIELDS:
            raise TypeError(f"unknown keyword {name!r} (known: {', '.join(_FIELDS)})")
        if value is not None:
            overrides.append(Override(f"{name}=", _FIELDS[name], str(value) if name == "runs_dir" else value))
    return apply_overrides(base, overrides)


@dataclass(slots=True)
class Execution:
    """One finished run, with what a front end shows beyond the report (the CLI prints Locust's table)."""

    report: RunReport
    run_dir: Path
    html_report: Path | None
    stats: RequestStats
    interrupted: bool  # stopped early, or conversations were cut off
    stopped_by: str | None


def execute(
    config: Config,
    *,
    persona: str | None = None,
    duration_s: float | None = None,
    shape: ProfileShape | None = None,
    drain_s: float = 60.0,
    target: Target | None = None,
    hooks: Sequence[Hook] = (),
    user: UserFactory | None = None,
    goal: GoalDetector | None = None,
    personas: Sequence[Persona] | None = None,
    stop: StopRequest | None = None,
    on_event: Callable[[Event], None] | None = None,
    on_start: Callable[[RunContext], None] | None = None,
    html_report: bool = True,
) -> Execution:
    """The one run loop behind `run`, `stress`, `converse` and the CLI.

    A fixed number of conversations (`config.run.conversations`, `concurrency` at a time, within
    `duration_s` if given), or with `shape` a stress test: users as the Locust load shape says, then
    `drain_s` for those under way. `on_start` sees the run's context before the first conversation
    (its id, seed, event bus, the bundled system it started).
    """
    from convoload.load.context import RunContext
    from convoload.load.engine import run_for, run_load
    from convoload.load.openfiles import ensure_open_files
    from convoload.load.plan import RunPlan

    if shape is not None:
        plan = RunPlan(users=shape.users, duration_s=shape.duration_s, profile=shape.name)
    else:
        plan = RunPlan(conversations=config.run.conversations, duration_s=duration_s)
    # Before anything starts: a run the machine cannot hold is refused with nothing left behind.
    at_once, field = (
        (shape.users, "--users") if shape is not None else (config.run.concurrency, "run.concurrency")
    )
    ensure_open_files(
        min(at_once, plan.conversations or at_once),
        callbacks=_uses_callbacks(config, target),
        source=config.source,
        field=field,
    )
    context = RunContext(
        config,
        pinned_persona=persona,
        plan=plan,
        target=target,
        hooks=hooks,
        user_factory=user,
        goal=goal,
        personas=None if personas is None else list(personas),
    )
    try:
        if config.judge.enabled:  # a persona without a rubric is bad input: refused before the run
            from convoload.judge.setup import RubricChooser

            chooser = RubricChooser(config)
            for each in context.personas:
                chooser.rubric(each.name)
        if on_event is not None:
            context.bus.subscribe(Event, on_event)
        if on_start is not None:
            on_start(context)
        if shape is not None:
            result = run_for(context, shape, drain_s=drain_s, stop=stop)
        else:
            result = run_load(
                context,
                config.run.conversations,
                config.run.concurrency,
                duration_s=duration_s,
                ramp_up_s=config.run.ramp_up_s,
                stop=stop,
            )
        judgement = None
        if config.judge.enabled:
            from convoload.judge.runner import judge_finished_run

            judgement = judge_finished_run(config, context.run_dir, emit=context.bus.emit)
        document = context.aggregate(judgement)
        html = None
        if html_report:
            from convoload.report.html import write_html_report

            html = write_html_report(context.run_dir, document)
    finally:
        context.close()
    journal = context.run_dir / JOURNAL_NAME
    report = RunReport.from_document(
        document, run_dir=context.run_dir, conversations=lambda: journal_summaries(journal)
    )
    return Execution(report, context.run_dir, html, result.stats, result.interrupted, context.stopped_by)


def run(
    config: ConfigLike = None,
    *,
    conversations: int | None = None,
    concurrency: int | None = None,
    seed: int | None = None,
    runs_dir: str | PathLike[str] | None = None,
    max_iterations: int | None = None,
    judge: bool | None = None,
    duration_s: float | None = None,
    persona: str | None = None,
    target: Target | None = None,
    hooks: Sequence[Hook] = (),
    user: UserFactory | None = None,
    goal: GoalDetector | None = None,
    personas: Sequence[Persona] | None = None,
    stop: StopRequest | None = None,
    on_event: Callable[[Event], None] | None = None,
) -> RunReport:
    """Hold `conversations` conversations, `concurrency` at a time (within `duration_s` if given).

    `persona` pins every conversation to one persona (by name).
    """
    resolved = load(
        config,
        conversations=conversations,
        concurrency=concurrency,
        seed=seed,
        runs_dir=runs_dir,
        max_iterations=max_iterations,
        judge=judge,
    )
    return execute(
        resolved,
        persona=persona,
        duration_s=duration_s,
        target=target,
        hooks=hooks,
        user=user,
        goal=goal,
        personas=personas,
        stop=stop,
        on_event=on_event,
    ).report


def stress(
    config: ConfigLike = None,
    *,
    users: int,
    duration_s: float,
    profile: str | type[ProfileShape] = "steady",
    drain_s: float = 60.0,
    seed: int | None = None,
    runs_dir: str | PathLike[str] | None = None,
    max_iterations: int | None = None,
    judge: bool | None = None,
    target: Target | None = None,
    hooks: Sequence[Hook] = (),
    user: UserFactory | None = None,
    goal: GoalDetector | None = None,
    personas: Sequence[Persona] | None = None,
    stop: StopRequest | None = None,
    on_event: Callable[[Event], None] | None = None,
) -> RunReport:
    """`users` virtual users hold conversations back to back for `duration_s`, following `profile`
    (a name from `convoload.load.shapes.PROFILES` or a `ProfileShape` subclass of your own); then
    those under way get `drain_s` to finish."""
    from convoload.errors import ConfigError
    from convoload.load.shapes import profile_shape

    if isinstance(profile, str):
        try:
            profile = profile_shape(profile)
        except ValueError as exc:
            raise ConfigError("profile=", "", str(exc)) from None
    resolved = load(config, seed=seed, runs_dir=runs_dir, max_iterations=max_iterations, judge=judge)
    try:
        shape = profile(users, duration_s, ramp_up_s=resolved.run.ramp_up_s)
    except ValueError as exc:
        raise ConfigError("users=", "", str(exc)) from None
    return execute(
        resolved,
        shape=shape,
        drain_s=drain_s,
        target=target,
        hooks=hooks,
        user=user,
        goal=goal,
        personas=personas,
        stop=stop,
        on_event=on_event,
    ).report


def capacity(
    config: ConfigLike = None,
    *,
    steps: Sequence[int] | None = None,
    start_users: int | None = None,
    max_users: int | None = None,
    step_duration_s: float | None = None,
    warm_up_s: float | None = None,
    abort_after_s: float | None = None,
    slos: Sequence[str] | None = None,
    abort: bool | None = None,
    drain_s: float = 60.0,
    seed: int | None = None,
    runs_dir: str | PathLike[str] | None = None,
    max_iterations: int | None = None,
    judge: bool | None = None,
    target: Target | None = None,
    hooks: Sequence[Hook] = (),
    user: UserFactory | None = None,
    goal: GoalDetector | None = None,
    personas: Sequence[Persona] | None = None,
    stop: StopRequest | None = None,
    on_event: Callable[[Event], None] | None = None,
) -> CapacityResult:
    """Step load over concurrency until an SLO breaks: `steps` users (or doubling from `start_users` to
    `max_users`), each for `warm_up_s` then `step_duration_s`, users holding conversations back to back
    as in `stress`; `slos` such as "p95_turn_s<=8". None takes the config's `capacity:` value.

    Returns the steps' numbers and the verdict (the highest concurrency that met every SLO, the first
    that broke one), also written to capacity.json and capacity.html in the run folder and the store.
    """
    from convoload.knee.plan import resolve_plan
    from convoload.knee.run import CapacityRun

    resolved = load(config, seed=seed, runs_dir=runs_dir, max_iterations=max_iterations, judge=judge)
    keywords = {"steps": "steps=", "start_users": "start_users=", "max_users": "max_users="}
    keywords |= {"step_duration_s": "step_duration_s=", "warm_up_s": "warm_up_s=", "slos": "slos="}
    plan = resolve_plan(
        resolved,
        steps=steps,
        start_users=start_users,
        max_users=max_users,
        step_duration_s=step_duration_s,
        warm_up_s=warm_up_s,
        abort_after_s=abort_after_s,
        abort=abort,
        slos=slos,
        flags={**keywords, "abort_after_s": "abort_after_s="},
    )
    run = CapacityRun(plan.settings())
    done = execute(
        resolved,
        shape=run.shape,
        drain_s=drain_s,
        target=target,
        hooks=hooks,
        user=user,
        goal=goal,
        personas=personas,
        stop=stop,
        on_event=on_event,
        on_start=run.attach,
    )
    return run.finish(done.report.run_id, done.run_dir, done.stopped_by)


def converse(
    config: ConfigLike = None,
    *,
    persona: str | Persona | None = None,
    seed: int | None = None,
    runs_dir: str | PathLike[str] | None = None,
    max_iterations: int | None = None,
    target: Target | None = None,
    hooks: Sequence[Hook] = (),
    user: UserFactory | None = None,
    goal: GoalDetector | None = None,
    personas: Sequence[Persona] | None = None,
    on_event: Callable[[Event], None] | None = None,
) -> ConversationRecord:
    """Hold one conversation (with `persona`, or the config's first) and return its full record:
    every turn's texts, latencies and errors, the findings of the hooks, the outcome.

    `persona` is a persona's name, or a `Persona` of your own (played instead of the config's)."""
    if isinstance(persona, Persona):
        personas, persona = [persona], persona.name
    resolved = load(
        config, conversations=1, concurrency=1, seed=seed, runs_dir=runs_dir, max_iterations=max_iterations
    )
    finished: list[ConversationRecord] = []

    def keep(context: RunContext) -> None:
        context.bus.subscribe(ConversationFinished, lambda event: finished.append(event.record))

    execute(
        resolved,
        persona=persona,
        target=target,
        hooks=hooks,
        user=user,
        goal=goal,
        personas=personas,
        on_event=on_event,
        on_start=keep,
        html_report=False,
    )
    return finished[0]


__all__ = [
    "ConfigLike",
    "Execution",
    "UserFactory",
    "capacity",
    "converse",
    "execute",
    "load",
    "run",
    "stress",
]


def _uses_callbacks(config: Config, target: Target | None) -> bool:
    """Whether each conversation also holds a callback connection (a webhook target, or a bundled
    system that answers through callbacks)."""
    if config.target.type in PLATFORM_TYPES:  # webhooks to the bot, and the bot's calls to the platform
        return True
    if target is not None:
        return getattr(target, "receiver", None) is not None
    if config.target.type == "webhook":
        return True
    if config.target.type == "demo":
        from convoload.bundled import BUNDLED

        try:
            return BUNDLED.get(config.target.demo.agent).callbacks
        except KeyError:  # reported, naming the field, when the run starts it
            return True
    return False
