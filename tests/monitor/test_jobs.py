"""The monitor's job summaries are typed models, kept in the results store as the same JSON as ever:
read back as the model of their job, with every key (known or not) in its place."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from convoload.monitor.jobs import (
    CollectSummary,
    ComponentCheck,
    DailySummary,
    HealthSummary,
    JobFailure,
    JobSummary,
    PipelineSummary,
    StressSummary,
    read_summary,
)
from convoload.monitor.store import MonitorStore
from convoload.store.results.schema import monitor_jobs

STRESS = StressSummary(
    users=4,
    duration_s=30.0,
    profile="ramp",
    conversations=12,
    success_rate=0.9167,
    p95_ms=1234.5,
    grade="A",
    health="healthy",
    recommendations=["1 conversations hit the turn limit without reaching the goal."],
    complete=True,
)
PIPELINE = PipelineSummary(
    pipeline_id="pipeline-1",
    conversations=2,
    success_rate=1.0,
    p95_ms=None,
    grade="A+",
    health="healthy",
    recommendations=["No action needed: every check passed."],
    scenarios={"greetings": "A+"},
)
# Each job's summary and the JSON object the monitor has always stored for it, keys in this order.
SUMMARIES = {
    "collect": (
        CollectSummary(conversations=3, window_conversations=7, success_rate=1.0, error_rate=0.0, p95_s=None),
        {
            "conversations": 3,
            "window_conversations": 7,
            "success_rate": 1.0,
            "error_rate": 0.0,
            "p95_s": None,
        },
    ),
    "health": (
        HealthSummary(
            {"agent": ComponentCheck(up=True, detail="ok"), "catalog": ComponentCheck(up=False, detail=None)}
        ),
        {"agent": {"up": True, "detail": "ok"}, "catalog": {"up": False, "detail": None}},
    ),
    "stress": (
        STRESS,
        {
            "users": 4,
            "duration_s": 30.0,
            "profile": "ramp",
            "conversations": 12,
            "success_rate": 0.9167,
            "p95_ms": 1234.5,
            "grade": "A",
            "health": "healthy",
            "recommendations": STRESS.recommendations,
            "complete": True,
        },
    ),
    "pipeline": (
        PIPELINE,
        {
            "pipeline_id": "pipeline-1",
            "conversations": 2,
            "success_rate": 1.0,
            "p95_ms": None,
            "grade": "A+",
            "health": "healthy",
            "recommendations": PIPELINE.recommendations,
            "scenarios": {"greetings": "A+"},
        },
    ),
    "daily": (
        DailySummary(report="runs/daily/daily_report_20240501.json", pipeline=PIPELINE, stress=STRESS),
        {
            "report": "runs/daily/daily_report_20240501.json",
            "pipeline": PIPELINE.to_json(),
            "stress": STRESS.to_json(),
        },
    ),
}
CLASSES = {"collect": CollectSummary, "health": HealthSummary, "stress": StressSummary}
CLASSES |= {"pipeline": PipelineSummary, "daily": DailySummary}


def _stored(store: MonitorStore) -> dict[int, str]:
    """The summary column of every job as the database holds it (its JSON text)."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(monitor_jobs.c.id, monitor_jobs.c.summary)).all()
    return {job_id: json.dumps(summary) for job_id, summary in rows}


def test_each_job_s_summary_is_stored_as_ever_and_read_back_as_its_model(tmp_path: Path) -> None:
    store = MonitorStore(f"sqlite:///{tmp_path / 'results.sqlite'}")
    ids = {}
    for job, (summary, _) in SUMMARIES.items():
        ids[job] = store.start_job(job)
        store.finish_job(ids[job], status="ok", summary=summary)
    stored = _stored(store)
    rows = {row.job: row for row in store.jobs()}
    for job, (summary, document) in SUMMARIES.items():
        assert stored[ids[job]] == json.dumps(document), job  # same keys, same order, same values
        assert type(rows[job].summary) is CLASSES[job]
        assert rows[job].summary == summary and rows[job].summary.to_json() == document
    daily = rows["daily"].summary
    assert isinstance(daily, DailySummary) and daily.stress is not None and daily.stress.grade == "A"
    assert daily.advice() == [PIPELINE.recommendations, STRESS.recommendations]
    store.close()


def test_summaries_of_other_shapes_keep_every_key(tmp_path: Path) -> None:
    store = MonitorStore(f"sqlite:///{tmp_path / 'results.sqlite'}")
    shapes = {
        "collect": {"success_ratio": 0.75, "conversations": 4},  # a key this version does not know
        "health": {"agent": "up"},  # not a component check: kept as it is
        "stress": {"grade": "A", "recommendations": ["Cache the catalog lookups."]},  # an older, shorter one
        "weekly": {"anything": [1, 2]},  # a job this version does not know
    }
    for job, summary in shapes.items():
        store.finish_job(store.start_job(job), status="ok", summary=summary)
    rows = {row.job: row for row in store.jobs()}
    for job, summary in shapes.items():
        assert json.dumps(rows[job].summary.to_json()) == json.dumps(summary), job
    assert isinstance(rows["collect"].summary, CollectSummary) and rows["collect"].summary.conversations == 4
    assert type(rows["health"].summary) is JobSummary and type(rows["weekly"].summary) is JobSummary
    stress = rows["stress"].summary
    assert isinstance(stress, StressSummary) and stress.advice() == [["Cache the catalog lookups."]]
    assert read_summary("collect", None) is None
    store.close()


def test_what_the_terminal_prints_of_each_job() -> None:
    highlights = {job: summary.highlights() for job, (summary, _) in SUMMARIES.items()}
    assert highlights == {
        "collect": ["success 100%"],
        "health": ["agent up", "catalog DOWN"],
        "stress": ["success 92%", "p95 1.23 s", "grade A"],
        "pipeline": ["success 100%", "grade A+"],
        "daily": ["report runs/daily/daily_report_20240501.json"],
    }
    assert JobFailure(error="RuntimeError: catalog gone").to_json() == {"error": "RuntimeError: catalog gone"}
