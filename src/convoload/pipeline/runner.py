"""Run scenarios against the bundled real-estate system and grade them.

The catalog API and the assistant are started once for the whole pipeline;
each scenario (and each repetition) is an ordinary convoload run in its own
folder under the pipeline's, so every record and report of a run exists for
it too. On top, per scenario: success by the scenario's own rule, latency per
agent, integration metrics, health, grade, recommendations, and pass^k.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx

from convoload.config import Config
from convoload.conversation.records import ConversationRecord, ErrorKind, Outcome
from convoload.load.context import RunContext, new_run_id
from convoload.load.engine import run_load
from convoload.load.plan import RunPlan
from convoload.personas import resolve_personas
from convoload.personas.model import Persona
from convoload.pipeline.consistency import ConsistencyReport, check
from convoload.pipeline.model import Scenario
from convoload.report.aggregate import aggregate, distribution
from convoload.report.grading import (
    assess,
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

# The hand-offs the assistant's agents may make; anything else is a coordination fault.
ALLOWED_HANDOFFS = {
    ("triagem", "busca"),
    ("triagem", "imovel"),
    ("triagem", "agendamento"),
    ("busca", "imovel"),
    ("busca", "triagem"),
    ("imovel", "agendamento"),
    ("imovel", "busca"),
    ("agendamento", "imovel"),
    ("agendamento", "busca"),
}


@dataclass
class System:
    """Where the system under test is."""

    chat_url: str
    catalog_url: str
    health_url: str


def start_system(resources: Any, listings: int, *, brain: str = "rules", llm: tuple[str, ...] = ()) -> System:
    from convoload_demo.realestate.assistant.launcher import AssistantServer
    from convoload_demo.realestate.assistant.settings import AssistantSettings
    from convoload_demo.realestate.catalog.launcher import CatalogServer
    from convoload_demo.realestate.catalog.settings import SANDBOX_RELEASE_S, CatalogSettings

    catalog = resources.enter_context(
        CatalogServer(CatalogSettings(listings=listings, release_visits_after_s=SANDBOX_RELEASE_S))
    )
    settings = AssistantSettings(catalog_url=catalog.url, brain=brain, llm=llm)  # type: ignore[arg-type]
    assistant = resources.enter_context(AssistantServer(settings))
    return System(chat_url=assistant.chat_url, catalog_url=catalog.url, health_url=assistant.url + "/health")


def run_pipeline(
    scenarios: list[Scenario],
    system: System,
    *,
    runs_dir: Path,
    repeat: int = 1,
    seed: int = 1,
    on_scenario: Callable[[dict[str, Any]], None] | None = None,
    store_url: str | None = None,
    stop: StopRequest | None = None,
) -> dict[str, Any]:
    """Run every scenario `repeat` times; runs go to `store_url` (see `checked_store_url`).

    A `stop` request (a signal) ends the scenario under way the way a run's time limit does and skips
    the rest; the results of what ran are written all the same, marked incomplete.
    """
    store_url = checked_store_url(store_url, runs_dir=runs_dir)  # fails before the first scenario
    pipeline_id = "pipeline-" + new_run_id()
    folder = runs_dir / pipeline_id
    folder.mkdir(parents=True, exist_ok=True)
    results = []
    all_records: list[ConversationRecord] = []
    skipped: list[str] = []
    with httpx.Client(timeout=10) as http:
        for scenario in scenarios:
            if stop is not None and stop.is_set():
                skipped.append(scenario.name)
                continue
            repetitions = []
            finished, planned = 0, scenario.conversations * repeat
            for attempt in range(repeat):
                if stop is not None and stop.is_set():
                    break
                records, run_dir, completion = _run_once(
                    scenario, system, folder, seed + attempt, store_url, stop
                )
                repetitions.append((records, run_dir))
                all_records.extend(records)
                finished += completion["finished_conversations"]
            result = _scenario_result(scenario, repetitions, system, http)
            if finished < planned:
                why = f"stopped by {stop.reason}" if stop is not None and stop.is_set() else "cut short"
                mark_incomplete(
                    result,
                    f"Incomplete: {why}; {finished} of {planned} planned conversations finished. "
                    "Run the pipeline to the end before acting on this grade.",
                )
            _store_grades(store_url, result, repetitions)
            results.append(result)
            if on_scenario:
                on_scenario(result)
        healthy_after = _healthy(http, system.health_url)
    overall = _overall(results, all_records, healthy_after)
    stopped_by = stop.reason if stop is not None and stop.is_set() else None
    if skipped or any(r.get("complete") is False for r in results):
        ran = len(results) - sum(1 for r in results if r.get("complete") is False)
        mark_incomplete(
            overall,
            f"Incomplete pipeline{f' (stopped by {stopped_by})' if stopped_by else ''}: {ran} of "
            f"{len(scenarios)} scenarios ran to the end"
            + (f"; not started: {', '.join(skipped)}" if skipped else "")
            + ". Run it to the end before acting on its grade.",
        )
    document = {
        "pipeline_id": pipeline_id,
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "repeat": repeat,
        "system": {"assistant": system.chat_url, "catalog": system.catalog_url},
        "scenarios": results,
        "overall": overall,
        **({"stopped_by": stopped_by} if stopped_by else {}),
        **({"skipped_scenarios": skipped} if skipped else {}),
    }
    write_json(folder / "real_test_results.json", document)
    _write_csv(folder / "scenarios.csv", results)
    document["folder"] = str(folder)
    return document


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


def _run_once(
    scenario: Scenario,
    system: System,
    folder: Path,
    seed: int,
    store_url: str,
    stop: StopRequest | None = None,
) -> tuple[list[ConversationRecord], Path, dict[str, Any]]:
    """One repetition of a scenario: its records, its run folder and its completion (report.completion)."""
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
            "goal": scenario.goal.model_dump(),
            "store": {"url": store_url},
            "target": {
                "type": "http",
                "url": system.chat_url,
                "reply_path": "reply",
                "agent_path": "agent",
                "body": {"session_id": "{session_id}", "message": "{text}"},
            },
        }
    )
    context = RunContext(
        config, personas=_personas(scenario), plan=RunPlan(conversations=scenario.conversations)
    )
    try:
        concurrency = scenario.concurrency or scenario.conversations
        run_load(context, scenario.conversations, concurrency, stop=stop)
        completion = context.aggregate()["summary"]["completion"]
    finally:
        context.close()
    return read_journal(context.run_dir / "journal.jsonl"), context.run_dir, completion


def _personas(scenario: Scenario) -> list[Persona]:
    personas = resolve_personas(scenario.personas, source=f"scenario {scenario.name}")
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


def _scenario_result(
    scenario: Scenario,
    repetitions: list[tuple[list[ConversationRecord], Path]],
    system: System,
    http: httpx.Client,
) -> dict[str, Any]:
    records = [r for recs, _ in repetitions for r in recs]
    document = aggregate(records)
    consistency = ConsistencyReport()
    if "data_consistency" in scenario.checks:
        consistency = check(
            records,
            lambda pid: http.get(f"{system.catalog_url}/api/properties/{pid}").raise_for_status().json(),
        )
    bad_sessions = {m.session_id for m in consistency.mismatches}
    wins = [succeeded(scenario, r) and r.session_id not in bad_sessions for r in records]
    success_rate = round(sum(wins) / len(wins), 4) if wins else 0.0
    turns = [t for r in records for t in r.turns]
    p95_s = (document["latency"]["turn_ms"].get("p95") or 0) / 1000
    # In a resilience (graceful) scenario, refusing bad input with a 4xx is the right answer: no error,
    # and no blow to coherence or user experience.
    refused = sum(1 for t in turns if scenario.success == "graceful" and t.error and _graceful(t.error))
    error_turns = sum(1 for t in turns if t.error) - refused
    error_rate = error_turns / len(turns) if turns else 0.0
    by_agent: dict[str, list[float]] = defaultdict(list)
    for t in turns:
        if t.latency_ms is not None and t.error is None:
            by_agent[t.agent or "?"].append(t.latency_ms)
    assessment = assess(_expected_removed(scenario, document, records))
    integration = {
        "coherence": _coherence(document, len(turns), refused),
        "agent_coordination": _coordination(records),
        "data_consistency": consistency.score,
        "user_experience": _experience(turns, graceful=scenario.success == "graceful"),
    }
    result = {
        "name": scenario.name,
        "description": scenario.description,
        "conversations": len(records),
        "successful": sum(wins),
        "success_rate": success_rate,
        "latency_ms": document["latency"]["turn_ms"],
        "per_agent": {agent: distribution(values) for agent, values in sorted(by_agent.items())},
        "integration": integration,
        "data_consistency": {
            "checked": consistency.checked,
            "mismatches": [m.__dict__ for m in consistency.mismatches],
        },
        "health": health(success_rate, p95_s, error_rate),
        "grade": worst(grade(success_rate, p95_s), quality_grade(integration)),
        "error_rate": round(error_rate, 4),
        "recommendations": _with_quality(assessment["recommendations"], integration),
        "findings": document["findings"]["by_hook"],
        "runs": [str(run_dir) for _, run_dir in repetitions],
    }
    if len(repetitions) > 1:
        result["pass_k"] = _pass_k(scenario, repetitions, bad_sessions)
    return result


def _expected_removed(
    scenario: Scenario, document: dict[str, Any], records: list[ConversationRecord]
) -> dict[str, Any]:
    """For resilience scenarios, refused bad input (4xx) and scripts played to the end are the point,
    not problems to recommend anything about."""
    if scenario.success != "graceful":
        return document
    summary = dict(document["summary"])
    errors = dict(summary["errors_by_kind"])
    graceful = sum(1 for r in records if r.error is not None and _graceful(r.error))
    if errors.get("http_status", 0) <= graceful:
        errors.pop("http_status", None)
    summary["errors_by_kind"] = errors
    summary["outcomes"] = {k: v for k, v in summary["outcomes"].items() if k != "user_stopped"}
    return {**document, "summary": summary}


def _store_grades(
    store_url: str, result: dict[str, Any], repetitions: list[tuple[list[ConversationRecord], Path]]
) -> None:
    """The scenario's grade goes with each of its runs into the results store they were written to."""
    from convoload.store.results import ResultsStore
    from convoload.store.results.engine import sqlite_path

    database = sqlite_path(store_url)
    if database is not None and not database.is_file():
        return
    with ResultsStore(store_url) as store:
        for _, run_dir in repetitions:
            store.add_grade(
                run_dir.name,
                result["name"],
                result["grade"],
                result["success_rate"],
                result["latency_ms"].get("p95"),
                {"health": result["health"], "integration": result["integration"]},
            )


def _graceful(error: Any) -> bool:
    return error.kind == ErrorKind.HTTP_STATUS and 400 <= (error.status_code or 0) < 500


def _with_quality(recommendations: list[str], integration: dict[str, float]) -> list[str]:
    """The quality metrics' recommendations first; "No action needed" only when there are none."""
    quality = quality_recommendations(integration)
    if not quality:
        return recommendations
    return quality + [line for line in recommendations if not line.startswith("No action needed")]


def _coherence(document: dict[str, Any], turns: int, refused: int = 0) -> float:
    """Replies that are neither errors nor suspiciously short; `refused` turns (expected 4xx) are fine."""
    by_hook = document["findings"]["by_hook"]
    bad = sum(by_hook.get(h, {}).get("count", 0) for h in ("error_responses", "short_responses")) - refused
    return round(min(1.0, max(0.0, 1 - bad / turns)), 4) if turns else 1.0


def _coordination(records: list[ConversationRecord]) -> float:
    moves = [(a, b) for r in records for a, b in pairwise(r.agents) if a != b]
    return round(sum(1 for m in moves if m in ALLOWED_HANDOFFS) / len(moves), 4) if moves else 1.0


def _experience(turns: list[Any], *, graceful: bool = False) -> float:
    """Turns answered without error in under 5 s; in a graceful scenario a 4xx refusal is an answer."""
    good = sum(
        1
        for t in turns
        if (t.error is None and (t.latency_ms or 0) < 5_000) or (graceful and t.error and _graceful(t.error))
    )
    return round(good / len(turns), 4) if turns else 1.0


def _pass_k(
    scenario: Scenario, repetitions: list[tuple[list[ConversationRecord], Path]], bad_sessions: set[str]
) -> dict[str, Any]:
    """pass^k: the share of conversation slots (user i) that succeeded in every one of the k repetitions."""
    slots: dict[int, list[bool]] = defaultdict(list)
    for records, _ in repetitions:
        for r in records:
            slots[r.user_id].append(succeeded(scenario, r) and r.session_id not in bad_sessions)
    k = len(repetitions)
    value = sum(1 for outcomes in slots.values() if len(outcomes) == k and all(outcomes)) / len(slots)
    return {"k": k, "value": round(value, 4)}


def _healthy(http: httpx.Client, url: str) -> bool:
    try:
        return http.get(url).json().get("status") == "ok"
    except (httpx.HTTPError, ValueError):
        return False


def _overall(
    results: list[dict[str, Any]], records: list[ConversationRecord], healthy_after: bool
) -> dict[str, Any]:
    total = sum(r["conversations"] for r in results)
    successful = sum(r["successful"] for r in results)
    success_rate = round(successful / total, 4) if total else 0.0
    latency = distribution(t.latency_ms for r in records for t in r.turns if t.error is None)
    p95_s = (latency.get("p95") or 0) / 1000
    turns = sum(r["latency_ms"].get("count", 0) for r in results) or 1
    errors = sum(r["error_rate"] * r["latency_ms"].get("count", 0) for r in results)
    status = health(success_rate, p95_s, errors / turns)
    if not healthy_after:
        status = "critical"
    keys = ("coherence", "agent_coordination", "data_consistency", "user_experience")
    integration = {k: round(sum(r["integration"][k] for r in results) / len(results), 4) for k in keys}
    return {
        "conversations": total,
        "successful": successful,
        "success_rate": success_rate,
        "latency_ms": latency,
        "integration": integration,
        "health": status,
        "grade": worst(grade(success_rate, p95_s), quality_grade(integration)),
        "system_healthy_after": healthy_after,
        "recommendations": [
            f"{r['name']}: {line}"
            for r in results
            for line in r["recommendations"]
            if not line.startswith("No action needed")
        ]
        or ["No action needed: every check passed."],
    }


def _write_csv(path: Path, results: list[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "scenario",
                "conversations",
                "successful",
                "success_rate",
                "p50_ms",
                "p95_ms",
                "grade",
                "health",
                "coherence",
                "agent_coordination",
                "data_consistency",
                "user_experience",
            ]
        )
        for r in results:
            i = r["integration"]
            writer.writerow(
                [
                    r["name"],
                    r["conversations"],
                    r["successful"],
                    r["success_rate"],
                    r["latency_ms"].get("p50"),
                    r["latency_ms"].get("p95"),
                    r["grade"],
                    r["health"],
                    i["coherence"],
                    i["agent_coordination"],
                    i["data_consistency"],
                    i["user_experience"],
                ]
            )
