"""The results store on SQLite: round trips, run numbers, comparisons and run id prefixes."""

from __future__ import annotations

from pathlib import Path

import pytest

from convoload.errors import ConfigError
from convoload.report.aggregate import aggregate
from convoload.store.results import ResultsStore, RunRow, compare_runs
from tests.store.scenario import assert_scenario, baseline, fill


@pytest.fixture
def store(tmp_path: Path):
    with ResultsStore(f"sqlite:///{tmp_path / 'db' / 'results.sqlite'}") as s:
        yield s


def test_scenario_on_sqlite(store: ResultsStore) -> None:
    assert_scenario(store, fill(store))


def test_percentiles_match_the_report_aggregate(store: ResultsStore) -> None:
    records = baseline()
    store.start_run("a1b2-base", {})
    for record in records:
        store.add_conversation("a1b2-base", record)
    latency = aggregate(records)["latency"]
    row = store.get_run("a1b2")
    assert row is not None
    assert row.turn_p95_ms == latency["turn_ms"]["p95"]
    assert row.turn_p50_ms == latency["turn_ms"]["p50"]
    assert row.conversation_p95_ms == latency["conversation_ms"]["p95"]


def test_sqlite_file_is_in_wal_mode(store: ResultsStore) -> None:
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL


def test_show_details(store: ResultsStore) -> None:
    fill(store)
    personas = {p.persona: p for p in store.personas("a1b2")}
    assert (personas["Buyer"].conversations, personas["Buyer"].successful) == (2, 2)
    assert personas["Buyer"].turn_p95_ms == 385.0  # 100,200,300,400: 300 + 0.85 * 100
    assert (personas["Renter"].conversations, personas["Renter"].success_rate) == (3, 0.0)
    assert store.errors("c3d4") == {"http_status": (1, 1), "timeout": (1, 1)}
    assert store.finding_counts("a1b2") == [("pii", "critical", 2), ("tone", "quality", 1)]


def test_grades_round_trip(store: ResultsStore) -> None:
    store.start_run("r1", {})
    store.add_grade("r1", "checkout", "B", 0.91, 850.5, {"why": ["p95 over 800"]})
    [grade] = store.grades("r1")
    assert (grade.scenario, grade.grade, grade.success_rate, grade.p95_ms) == ("checkout", "B", 0.91, 850.5)
    assert grade.details == {"why": ["p95 over 800"]}


def test_run_id_prefixes(store: ResultsStore) -> None:
    fill(store)
    run = store.get_run("a1")
    assert run is not None and run.run_id == "a1b2-base"
    assert store.get_run("zz") is None
    with pytest.raises(ConfigError, match="ambiguous"):
        store.get_run("c3")
    with pytest.raises(ConfigError, match="not found"):
        store.conversations("zz")
    with pytest.raises(ConfigError, match="not found"):
        store.compare("a1b2", "nope")


def test_like_wildcards_in_a_prefix_are_literal(store: ResultsStore) -> None:
    store.start_run("xa1", {})
    assert store.get_run("x_") is None
    store.start_run("x_1", {})
    run = store.get_run("x_")
    assert run is not None and run.run_id == "x_1"


def test_duplicate_run_and_unknown_finish_are_errors(store: ResultsStore) -> None:
    store.start_run("r1", {})
    with pytest.raises(ConfigError, match="already exists"):
        store.start_run("r1", {})
    with pytest.raises(ConfigError, match="not found"):
        store.finish_run("r2", {})
    with pytest.raises(ValueError):
        store.finish_run("r1", {}, status="running")


def test_reading_a_missing_database_does_not_create_it(tmp_path: Path) -> None:
    path = tmp_path / "none.sqlite"
    with pytest.raises(ConfigError, match="no results database"):
        ResultsStore(f"sqlite:///{path}", create=False)
    assert not path.exists()


def _row(**values: float | None) -> RunRow:
    base = {
        "run_id": "r",
        "started_at": "t",
        "finished_at": None,
        "status": "finished",
        "conversations": 100,
        "successful": 90,
        "failed": 5,
        "success_rate": 0.90,
        "error_rate": 0.05,
        "turn_p50_ms": 100.0,
        "turn_p95_ms": 200.0,
        "conversation_p95_ms": 1000.0,
        "cost_usd": 1.0,
    }
    return RunRow(**{**base, **values})


@pytest.mark.parametrize(
    ("change", "regressed"),
    [
        ({"success_rate": 0.88}, False),  # exactly 2 points down: within the threshold
        ({"success_rate": 0.879}, True),
        ({"turn_p95_ms": 220.0}, False),  # exactly +10 %
        ({"turn_p95_ms": 222.0}, True),
        ({"conversation_p95_ms": 1111.0}, True),
        ({"cost_usd": 1.10}, False),
        ({"cost_usd": 1.11}, True),
        ({"error_rate": 0.07}, False),
        ({"error_rate": 0.071}, True),
        ({"turn_p95_ms": None}, False),  # no turns measured: nothing to compare
        ({"success_rate": 1.0, "turn_p95_ms": 10.0, "cost_usd": 0.0, "error_rate": 0.0}, False),
    ],
)
def test_regression_thresholds(change: dict[str, float | None], regressed: bool) -> None:
    assert bool(compare_runs(_row(), _row(**change)).regressions) is regressed


def test_cost_from_zero_is_a_regression() -> None:
    result = compare_runs(_row(cost_usd=0.0), _row(cost_usd=0.5))
    # Per success too: the same goals reached now cost something.
    assert [m.name for m in result.regressions] == ["cost per conversation", "cost per success"]
    assert result.metric("cost per conversation").change_pct is None
