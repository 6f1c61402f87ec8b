"""Run a scenario suite against its system and grade it.

The system is started (or reached) once for the whole pipeline; each scenario (and each
repetition) is an ordinary convoload run in its own folder under the pipeline's, so every record
and report of a run exists for it too. On top, per scenario: success by the scenario's own rule,
latency per agent, integration metrics (coherence, agent coordination when the suite says which
hand-offs are allowed, one per domain check of the suite, user experience), health, grade,
recommendations, and pass^k. What the system's replies mean is the suite's business, not this module's.
With the conversation judge on, each judged scenario also gets the `judge` metric, and the judge's
criteria weigh on coherence and user experience (see convoload.pipeline.judging).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from convoload.bundled import StartedSystem, start_bundled
from convoload.config import Config
from convoload.errors import ConfigError
from convoload.events import ReplyReceived
from convoload.load.context import RunContext, new_run_id
from convoload.load.engine import run_load
from convoload.load.plan import RunPlan
from convoload.model import ConversationRecord, ErrorKind, Outcome, distribution
from convoload.model.judgement import Judgement, JudgementSummary
from convoload.model.pipeline import (
    RESULTS_FILE,
    PassK,
    PipelineOverall,
    PipelineResults,
    PipelineSystem,
    ScenarioResult,
)
from convoload.model.report import Distribution, RunReport
from convoload.personas import resolve_personas
from convoload.personas.model import Persona
from convoload.pipeline.judging import (
    JUDGE_ADVICE,
    JUDGE_METRIC,
    PipelineJudge,
    any_judged,
    apply_judge,
    judge_recommendations,
    judges,
    summary,
)
from convoload.pipeline.model import CheckResult, Scenario, ScenarioSuite
from convoload.report.aggregate import aggregate
from convoload.report.grading import (
    assess_report,
    grade,
    health,
    mark_incomplete,
    quality_grade,
    quality_recommendations,
    worst,
)
from convoload.signals import StopRequest
from convoload.store.journal import read_journal, write_json
from convoload.store.results.engine import StoreOrigin, resolve_store_url

Handoffs = dict[str, dict[int, list[tuple[str, str]]]]  # session -> iteration -> hand-offs reported


@dataclass(slots=True)
class _Repetition:
    """One run of a scenario: its conversations, its folder, and the hand-offs its replies reported."""

    records: list[ConversationRecord]
    run_dir: Path
    handoffs: Handoffs = field(default_factory=dict)


def start_suite_system(
    suite: ScenarioSuite, resources: ExitStack, *, options: Mapping[str, Any] | None = None
) -> StartedSystem:
    """Where the suite's scenarios run: its bundled system started into `resources` (with the suite's
    options, then `options`), or its own target."""
    if suite.system is not None:
        return start_bundled(suite.system, resources, options={**suite.options, **(options or {})})
    if suite.target is None:
        raise ConfigError(f"suite {suite.name}", "target", "names neither a bundled system nor a target")
    return target_system(suite.name, suite.target)


def target_system(name: str, target: Mapping[str, Any]) -> StartedSystem:
    """A system convoload did not start, known by its `target:` config fields only."""
    return StartedSystem(
        name=name, url=str(target.get("url") or target.get("function") or ""), target=dict(target)
    )


def run_pipeline(
    suite: ScenarioSuite,
    system: StartedSystem,
    *,
    runs_dir: Path,
    repeat: int = 1,
    seed: int = 1,
    on_scenario: Callable[[ScenarioResult], None] | None = None,
    store_url: str | None = None,
    stop: StopRequest | None = None,
    judge_config: Config | None = None,
) -> PipelineResults:
    """Run every scenario `repeat` times; runs go to `store_url` (see `checked_store_url`).

    `judge_config`: the pipeline judges its scenarios' conversations with this config's `judge`
    section (those that do not say `judge: false`); scenarios that name a rubric are judged in any
    case, with the default judge (the bundled local provider's) when it is None. Every rubric is
    loaded before the first scenario runs.

    Writes real_test_results.json (the results' document) and scenarios.csv in the pipeline's folder
    and returns the results, `folder` set. A `stop` request (a signal) ends the scenario under way the
    way a run's time limit does and skips the rest; the results of what ran are written all the same,
    marked incomplete.
    """
    store_url = checked_store_url(store_url, runs_dir=runs_dir)  # fails before the first scenario
    pipeline_id = "pipeline-" + new_run_id()
    folder = runs_dir / pipeline_id
    pipeline_judges = judge_config is not None
    judged_metric = any_judged(suite, pipeline_judges)
    metrics = _metric_names(suite) + ([JUDGE_METRIC] if judged_metric else [])
    results: list[ScenarioResult] = []
    all_records: list[ConversationRecord] = []
    skipped: list[str] = []
    with ExitStack() as judging, httpx.Client(timeout=10) as http:
        judge = PipelineJudge(suite, judge_config, pipeline_judges, judging) if judged_metric else None
        folder.mkdir(parents=True, exist_ok=True)
        for scenario in suite.scenarios:
            if stop is not None and stop.is_set():
                skipped.append(scenario.name)
                continue
            repetitions: list[_Repetition] = []
            finished, planned = 0, scenario.conversations * repeat
            for attempt in range(repeat):
                if stop is not None and stop.is_set():
                    break
                repetition, done = _run_once(suite, scenario, system, folder, seed + attempt, store_url, stop)
                repetitions.append(repetition)
                all_records.extend(repetition.records)
                finished += done
            judgements = None
            if judge is not None and judges(scenario, pipeline_judges):
                records = [r for repetition in repetitions for r in repetition.records]
                judgements = judge.judge(scenario, records)
                _write_judgements(repetitions, judgements)
            result = _scenario_result(suite, scenario, repetitions, system, judgements)
            if finished < planned:
                why = f"stopped by {stop.reason}" if stop is not None and stop.is_set() else "cut short"
                result = mark_incomplete(
                    result,
                    f"Incomplete: {why}; {finished} of {planned} planned conversations finished. "
                    "Run the pipeline to the end before acting on this grade.",
                )
            _store_grades(store_url, result, repetitions)
            results.append(result)
            if on_scenario:
                on_scenario(result)
        healthy_after = _healthy(http, system.health_url)
    overall = _overall(results, all_records, healthy_after, metrics)
    stopped_by = stop.reason if stop is not None and stop.is_set() else None
    if skipped or any(r.complete is False for r in results):
        ran = len(results) - sum(1 for r in results if r.complete is False)
        overall = mark_incomplete(
            overall,
            f"Incomplete pipeline{f' (stopped by {stopped_by})' if stopped_by else ''}: {ran} of "
            f"{len(suite.scenarios)} scenarios ran to the end"
            + (f"; not started: {', '.join(skipped)}" if skipped else "")
            + ". Run it to the end before acting on its grade.",
        )
    pipeline = PipelineResults(
        pipeline_id=pipeline_id,
        timestamp=datetime.now(UTC).isoformat(timespec="seconds"),
        repeat=repeat,
        system=_where(system),
        scenarios=results,
        overall=overall,
        # Absent from the file unless there is something to say, as ever.
        **({"stopped_by": stopped_by} if stopped_by else {}),
        **({"skipped_scenarios": skipped} if skipped else {}),
        folder=folder,
    )
    write_json(folder / RESULTS_FILE, pipeline.to_document())
    _write_csv(folder / "scenarios.csv", results, metrics)
    return pipeline


def checked_store_url(given: str | None, *, runs_dir: Path) -> str:
    """The pipeline's results store, checked: `given`, else $CONVOLOAD_DB_URL, else runs_dir's database.

    Every scenario's runs go to it, so that `convoload runs` finds them with the same --runs-dir.
    """
    url, _ = resolve_store_url(
        given,
        StoreOrigin("store_url"),
        runs_dir=runs_dir,
        default_origin=StoreOrigin("--runs-dir"),
        check=True,
    )
    return url


def _where(system: StartedSystem) -> PipelineSystem:
    """The results' "system": the URL the scenarios talked to, and the data API checks read, if any."""
    assistant = str(system.target.get("url") or system.url)
    if system.catalog_url:
        return PipelineSystem(assistant=assistant, catalog=system.catalog_url)
    return PipelineSystem(assistant=assistant)


def _run_once(
    suite: ScenarioSuite,
    scenario: Scenario,
    system: StartedSystem,
    folder: Path,
    seed: int,
    store_url: str,
    stop: StopRequest | None = None,
) -> tuple[_Repetition, int]:
    """One repetition of a scenario, and how many of its conversations finished (report.completion)."""
    scripts = scenario.expanded_scripts()
    config = Config.model_validate(
        {
            "run": {
                "seed": seed,
                "runs_dir": str(folder),
                "max_iterations": scenario.max_iterations,
                "persona_assignment": "round_robin",
            },
            "user": {"type": "fixed", "scripts": scripts} if scripts else {"type": "scripted"},
            "goal": suite.goal_of(scenario).model_dump(),
            "store": {"url": store_url},
            "target": dict(system.target),
        }
    )
    context = RunContext(
        config, personas=_personas(suite, scenario), plan=RunPlan(conversations=scenario.conversations)
    )
    handoffs: Handoffs = {}
    read = suite.read_handoffs
    if read is not None:
        # Records keep the final agent of a turn only; the hand-offs a reply reports are noted here.
        def note(event: ReplyReceived) -> None:
            moves = read(event.raw)
            if moves is not None:
                handoffs.setdefault(event.session_id, {})[event.turn.iteration] = list(moves)

        context.bus.subscribe(ReplyReceived, note)
    try:
        concurrency = scenario.concurrency or scenario.conversations
        run_load(context, scenario.conversations, concurrency, stop=stop)
        completion = RunReport.of(context.aggregate()).summary.completion
    finally:
        context.close()
    records = read_journal(context.run_dir / "journal.jsonl")
    finished = completion.finished_conversations if completion is not None else 0
    return _Repetition(records, context.run_dir, handoffs), finished


def _personas(suite: ScenarioSuite, scenario: Scenario) -> list[Persona]:
    personas = resolve_personas(suite.personas_of(scenario), source=f"scenario {scenario.name}")
    overrides = scenario.persona_overrides
    if not overrides:
        return personas
    adjusted = []
    for persona in personas:
        data = persona.model_dump()
        for key, value in overrides.items():
            data[key] = (
                {**data[key], **value}
                if isinstance(value, dict) and isinstance(data.get(key), dict)
                else value
            )
        adjusted.append(Persona.model_validate(data))
    return adjusted


def succeeded(scenario: Scenario, record: ConversationRecord) -> bool:
    if scenario.success == "graceful":
        # Every message got an answer; a 4xx refusal of bad input is graceful, a 5xx or a hang is not.
        if record.error is None:
            return record.outcome in (Outcome.USER_STOPPED, Outcome.GOAL_REACHED, Outcome.MAX_ITERATIONS)
        status = record.error.status_code or 0
        return record.error.kind == ErrorKind.HTTP_STATUS and 400 <= status < 500
    return record.goal_reached


def _metric_names(suite: ScenarioSuite) -> list[str]:
    """The quality metrics of the suite's scenarios, in the order of the results and the CSV."""
    coordination = ["agent_coordination"] if suite.allowed_handoffs is not None else []
    return ["coherence", *coordination, *suite.check_names, "user_experience"]


def _run_checks(
    suite: ScenarioSuite, scenario: Scenario, records: list[ConversationRecord], system: StartedSystem
) -> dict[str, CheckResult]:
    """Every check of the suite: run when the scenario names it, else an empty result (score 1.0)."""
    results = {}
    for check in suite.checks:
        if check.name not in scenario.checks:
            results[check.name] = CheckResult()
            continue
        try:
            results[check.name] = check.run(records, system)
        except Exception as exc:  # a broken check costs its metric, not the pipeline's results
            results[check.name] = CheckResult(error=f"{type(exc).__name__}: {exc}")
    return results


def _scenario_result(
    suite: ScenarioSuite,
    scenario: Scenario,
    repetitions: list[_Repetition],
    system: StartedSystem,
    judgements: list[Judgement] | None = None,
) -> ScenarioResult:
    records = [r for repetition in repetitions for r in repetition.records]
    report = RunReport.from_document(aggregate(records))
    checks = _run_checks(suite, scenario, records, system)
    bad_sessions = {m.session_id for result in checks.values() for m in result.mismatches}
    # A conversation the simulated user broke tested nothing of the agent: outside its success rate.
    broken = sum(1 for r in records if r.outcome == Outcome.SIMULATOR_ERROR)
    wins = [
        succeeded(scenario, r) and r.session_id not in bad_sessions
        for r in records
        if r.outcome != Outcome.SIMULATOR_ERROR
    ]
    success_rate = round(sum(wins) / len(wins), 4) if wins else 0.0
    turns = [t for r in records for t in r.turns]
    turn_ms = report.latency.turn_ms
    p95_s = (turn_ms.p95 or 0) / 1000
    # In a resilience (graceful) scenario, refusing bad input with a 4xx is the right answer: no error,
    # and no blow to coherence or user experience.
    refused = sum(1 for t in turns if scenario.success == "graceful" and t.error and _graceful(t.error))
    error_turns = sum(1 for t in turns if t.error) - refused
    error_rate = error_turns / len(turns) if turns else 0.0
    by_agent: dict[str, list[float]] = defaultdict(list)
    for t in turns:
        if t.latency_ms is not None and t.error is None:
            by_agent[t.agent or "?"].append(t.latency_ms)
    assessment = assess_report(_expected_removed(scenario, report, records))
    integration = {"coherence": _coherence(report, len(turns), refused)}
    if suite.allowed_handoffs is not None:
        handoffs: Handoffs = {}
        for repetition in repetitions:
            handoffs.update(repetition.handoffs)
        integration["agent_coordination"] = _coordination(records, handoffs, suite.allowed_handoffs)
    integration.update({name: result.score for name, result in checks.items()})
    integration["user_experience"] = _experience(turns, graceful=scenario.success == "graceful")
    advice = {check.name: check.advice for check in suite.checks}
    judged_lines: list[str] = []
    if judgements is not None:
        apply_judge(integration, judgements)
        advice[JUDGE_METRIC] = JUDGE_ADVICE
        judged_lines = judge_recommendations(judgements)
    return ScenarioResult(
        name=scenario.name,
        description=scenario.description,
        conversations=len(records),
        successful=sum(wins),
        **({"simulator_errors": broken} if broken else {}),
        success_rate=success_rate,
        latency_ms=turn_ms,
        per_agent={agent: distribution(values) for agent, values in sorted(by_agent.items())},
        integration=integration,
        checks={name: check.to_json() for name, check in checks.items()},  # in the file: top-level keys
        health=health(success_rate, p95_s, error_rate),
        grade=worst(grade(success_rate, p95_s), quality_grade(integration)),
        error_rate=round(error_rate, 4),
        recommendations=_with_quality(assessment.recommendations, integration, advice, judged_lines),
        findings=report.findings.by_hook,
        runs=[str(repetition.run_dir) for repetition in repetitions],
        # pass^k only with more than one repetition: absent from the file otherwise.
        **({"pass_k": _pass_k(scenario, repetitions, bad_sessions)} if len(repetitions) > 1 else {}),
        **({"judgement": summary(judgements)} if judgements is not None else {}),
    )


def _write_judgements(repetitions: list[_Repetition], judgements: list[Judgement]) -> None:
    """Each repetition's verdicts in its run folder, as `convoload judge RUN` writes them."""
    from convoload.envsecrets import redact_json
    from convoload.judge.runner import JUDGEMENTS_NAME, SUMMARY_NAME

    by_session = {j.session_id: j for j in judgements}
    for repetition in repetitions:
        mine = [by_session[r.session_id] for r in repetition.records if r.session_id in by_session]
        with (repetition.run_dir / JUDGEMENTS_NAME).open("wb") as out:
            for judgement in mine:  # reasons quote the transcript: no known secret goes out
                out.write(redact_json(judgement.model_dump_json().encode()) + b"\n")
        run_id = repetition.records[0].run_id if repetition.records else repetition.run_dir.name
        write_json(
            repetition.run_dir / SUMMARY_NAME, JudgementSummary.of(run_id, mine).model_dump(mode="json")
        )


def _expected_removed(scenario: Scenario, report: RunReport, records: list[ConversationRecord]) -> RunReport:
    """For resilience scenarios, refused bad input (4xx) and scripts played to the end are the point,
    not problems to recommend anything about."""
    if scenario.success != "graceful":
        return report
    errors = dict(report.summary.errors_by_kind)
    graceful = sum(1 for r in records if r.error is not None and _graceful(r.error))
    if errors.get("http_status", 0) <= graceful:
        errors.pop("http_status", None)
    outcomes = {k: v for k, v in report.summary.outcomes.items() if k != "user_stopped"}
    summary = report.summary.model_copy(update={"errors_by_kind": errors, "outcomes": outcomes})
    return report.model_copy(update={"summary": summary})


def _store_grades(store_url: str, result: ScenarioResult, repetitions: list[_Repetition]) -> None:
    """The scenario's grade goes with each of its runs into the results store they were written to."""
    from convoload.store.results import ResultsStore
    from convoload.store.results.engine import sqlite_path

    database = sqlite_path(store_url)
    if database is not None and not database.is_file():
        return
    with ResultsStore(store_url) as store:
        for repetition in repetitions:
            store.add_grade(
                repetition.run_dir.name,
                result.name,
                result.grade,
                result.success_rate,
                result.latency_ms.p95,
                {"health": result.health, "integration": result.integration},
            )


def _graceful(error: Any) -> bool:
    return error.kind == ErrorKind.HTTP_STATUS and 400 <= (error.status_code or 0) < 500


def _with_quality(
    recommendations: list[str],
    integration: dict[str, float],
    advice: Mapping[str, str],
    judged: Sequence[str] = (),
) -> list[str]:
    """The quality metrics' recommendations first (then the judge's failed criteria); "No action
    needed" only when there are none."""
    quality = quality_recommendations(integration, advice) + list(judged)
    if not quality:
        return recommendations
    return quality + [line for line in recommendations if not line.startswith("No action needed")]


def _coherence(report: RunReport, turns: int, refused: int = 0) -> float:
    """Replies that are neither errors nor suspiciously short; `refused` turns (expected 4xx) are fine."""
    by_hook = report.findings.by_hook
    bad = sum(by_hook[h].count for h in ("error_responses", "short_responses") if h in by_hook) - refused
    return round(min(1.0, max(0.0, 1 - bad / turns)), 4) if turns else 1.0


def _coordination(
    records: list[ConversationRecord], reported: Handoffs, allowed: frozenset[tuple[str, str]]
) -> float:
    """Share of hand-offs between allowed agents: those a reply reports, else a change of agent
    between turns (a reply that reports none hands off inside it unseen)."""
    moves: list[tuple[str, str]] = []
    for record in records:
        told = reported.get(record.session_id, {})
        previous: str | None = None
        for turn in record.turns:
            if turn.iteration in told:
                moves.extend(told[turn.iteration])
            elif previous is not None and turn.agent:
                moves.append((previous, turn.agent))
            previous = turn.agent or previous
    moves = [(a, b) for a, b in moves if a != b]
    return round(sum(1 for m in moves if m in allowed) / len(moves), 4) if moves else 1.0


def _experience(turns: list[Any], *, graceful: bool = False) -> float:
    """Turns answered without error in under 5 s; in a graceful scenario a 4xx refusal is an answer."""
    good = sum(
        1
        for t in turns
        if (t.error is None and (t.latency_ms or 0) < 5_000) or (graceful and t.error and _graceful(t.error))
    )
    return round(good / len(turns), 4) if turns else 1.0


def _pass_k(scenario: Scenario, repetitions: list[_Repetition], bad_sessions: set[str]) -> PassK:
    """pass^k: the share of conversation slots (user i) that succeeded in every one of the k repetitions."""
    slots: dict[int, list[bool | None]] = defaultdict(list)
    for repetition in repetitions:
        for r in repetition.records:
            # None: the simulated user broke the conversation; the slot says nothing of the agent.
            broken = r.outcome == Outcome.SIMULATOR_ERROR
            slots[r.user_id].append(
                None if broken else succeeded(scenario, r) and r.session_id not in bad_sessions
            )
    k = len(repetitions)
    judged = [outcomes for outcomes in slots.values() if None not in outcomes]
    value = (
        sum(1 for outcomes in judged if len(outcomes) == k and all(outcomes)) / len(judged) if judged else 0.0
    )
    return PassK(k=k, value=round(value, 4))


def _healthy(http: httpx.Client, url: str | None) -> bool:
    if url is None:  # a system without a health endpoint: nothing says it is not
        return True
    try:
        return http.get(url).json().get("status") == "ok"
    except (httpx.HTTPError, ValueError):
        return False


def _overall(
    results: list[ScenarioResult], records: list[ConversationRecord], healthy_after: bool, metrics: list[str]
) -> PipelineOverall:
    total = sum(r.conversations - r.simulator_errors for r in results)
    successful = sum(r.successful for r in results)
    success_rate = round(successful / total, 4) if total else 0.0
    latency = Distribution.model_validate(
        distribution(t.latency_ms for r in records for t in r.turns if t.error is None)
    )
    p95_s = (latency.p95 or 0) / 1000
    turns = sum(r.latency_ms.count for r in results) or 1
    errors = sum(r.error_rate * r.latency_ms.count for r in results)
    status = health(success_rate, p95_s, errors / turns)
    if not healthy_after:
        status = "critical"
    # No scenario ran (stopped before the first): nothing was measured, nothing is vouched for.
    integration = {k: _mean_of(results, k) for k in metrics}
    return PipelineOverall(
        conversations=total,
        successful=successful,
        success_rate=success_rate,
        latency_ms=latency,
        integration=integration,
        health=status,
        grade=worst(grade(success_rate, p95_s), quality_grade(integration)),
        system_healthy_after=healthy_after,
        recommendations=[
            f"{r.name}: {line}"
            for r in results
            for line in r.recommendations
            if not line.startswith("No action needed")
        ]
        or ["No action needed: every check passed."],
    )


def _mean_of(results: list[ScenarioResult], metric: str) -> float:
    """A metric averaged over the scenarios that have it (a scenario not judged has no `judge`)."""
    values = [r.integration[metric] for r in results if metric in r.integration]
    return round(sum(values) / len(values), 4) if values else 0.0


def _write_csv(path: Path, results: list[ScenarioResult], metrics: Sequence[str]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        fixed = [
            "scenario",
            "conversations",
            "successful",
            "success_rate",
            "p50_ms",
            "p95_ms",
            "grade",
            "health",
        ]
        writer.writerow([*fixed, *metrics])
        for r in results:
            writer.writerow(
                [
                    r.name,
                    r.conversations,
                    r.successful,
                    r.success_rate,
                    r.latency_ms.p50,
                    r.latency_ms.p95,
                    r.grade,
                    r.health,
                    *(r.integration.get(metric, "") for metric in metrics),
                ]
            )
