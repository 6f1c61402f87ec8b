"""The judge's verdicts in the results store: the judgements table (replaced when a run is judged again),
the run row's judge pass rate and mean score, `runs show/list`, and `runs compare` (a pass rate drop of
more than 5 points is a regression); on SQLite and, where one can be started, on PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from convoload.cli.runs import runs_app
from convoload.errors import RunNotFound
from convoload.model.judgement import CriterionScore, Judgement, JudgementSummary, JudgeUsage
from convoload.store.results import ResultsStore
from convoload.store.results.store import judge_summary_fields
from tests.helpers import needs_postgres
from tests.store.scenario import fill

runner = CliRunner()


def _judgement(run_id: str, session: str, passed: bool | None, score: float | None = None) -> Judgement:
    if passed is None:
        return Judgement(
            run_id=run_id,
            session_id=session,
            user_id=1,
            persona="Buyer",
            rubric="tickets",
            status="judge_error",
            error="the judge answered nothing valid",
        )
    reason = f"{session}: {'resolved' if passed else 'left the customer waiting'}"
    criteria = [
        CriterionScore(
            id="goal_resolved",
            score=5 if passed else 2,
            normalised=1.0 if passed else 0.25,
            passed=passed,
            reason=reason,
        ),
        CriterionScore(id="whatsapp_tone", score=1, normalised=1.0, passed=True, reason="short messages"),
    ]
    return Judgement(
        run_id=run_id,
        session_id=session,
        user_id=int(session.rsplit("-", 1)[-1]),
        persona="Buyer",
        rubric="tickets",
        status="judged",
        passed=passed,
        score=score if score is not None else (1.0 if passed else 0.625),
        criteria=criteria,
        judge="local/judge",
        usage=JudgeUsage(
            prompt_tokens=90, completion_tokens=30, total_tokens=120, cost_usd=0.0002, llm_calls=1
        ),
    )


def _verdicts(run_id: str, passes: list[bool | None]) -> list[Judgement]:
    return [_judgement(run_id, f"s-{i}", passed) for i, passed in enumerate(passes, start=1)]


def _judge(store: ResultsStore, run_id: str, passes: list[bool | None]) -> JudgementSummary:
    verdicts = _verdicts(run_id, passes)
    summary = JudgementSummary.of(run_id, verdicts)
    store.record_judgements(run_id, iter(verdicts), judge_summary_fields(summary.model_dump(mode="json")))
    return summary


def check_judgements(store: ResultsStore) -> None:
    """What SQLite and Postgres must agree on."""
    fill(store)
    _judge(store, "a1b2-base", [True, True, False, None])
    rows = store.judgements("a1b2")  # a unique prefix, as everywhere in the store
    assert [r.session_id for r in rows] == ["s-1", "s-2", "s-3", "s-4"]
    assert [(r.status, r.passed) for r in rows] == [
        ("judged", True),
        ("judged", True),
        ("judged", False),
        ("judge_error", None),
    ]
    failed = rows[2]
    assert failed.score == 0.625 and failed.judge == "local/judge" and failed.rubric == "tickets"
    assert [(c.id, c.reason) for c in failed.failed_criteria()] == [
        ("goal_resolved", "s-3: left the customer waiting")
    ]
    assert isinstance(failed.criteria[1], CriterionScore) and failed.criteria[1].passed
    assert (failed.cost_usd, failed.total_tokens) == (0.0002, 120)
    assert rows[3].error == "the judge answered nothing valid" and rows[3].criteria == []

    base = store.require_run("a1b2-base")
    assert base.judge_pass_rate == pytest.approx(2 / 3, abs=1e-4)  # of the 3 judged
    assert base.judge_mean_score == pytest.approx((1.0 + 1.0 + 0.625) / 3, abs=1e-4)
    assert base.summary is not None and base.summary["note"] == "baseline"  # merged, not replaced
    assert base.summary["judged_conversations"] == 3

    # Judged again: that run's rows are replaced, not added to; other runs' stay.
    _judge(store, "c3e5-fast", [True])
    _judge(store, "a1b2-base", [True])
    assert [(r.session_id, r.passed) for r in store.judgements("a1b2-base")] == [("s-1", True)]
    assert len(store.judgements("c3e5-fast")) == 1
    assert store.require_run("a1b2-base").judge_pass_rate == 1.0
    assert store.judgements("c3d4-slow") == []
    assert store.require_run("c3d4-slow").judge_pass_rate is None


def test_judgements_on_sqlite(tmp_path: Path) -> None:
    with ResultsStore(f"sqlite:///{tmp_path / 'results.sqlite'}") as store:
        check_judgements(store)
    # Committed: a new connection reads them.
    with ResultsStore(f"sqlite:///{tmp_path / 'results.sqlite'}", create=False) as store:
        assert len(store.judgements("a1b2-base")) == 1


@pytest.mark.e2e
@needs_postgres
def test_judgements_on_postgres(postgres_server: str) -> None:
    pytest.importorskip("psycopg")
    admin = create_engine(f"{postgres_server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE results_judgements"))
    admin.dispose()
    with ResultsStore(f"{postgres_server}/results_judgements") as store:
        check_judgements(store)


def test_judgements_of_an_unknown_run_are_refused(tmp_path: Path) -> None:
    with ResultsStore(f"sqlite:///{tmp_path / 'results.sqlite'}") as store:
        with pytest.raises(RunNotFound):
            store.record_judgements("nope", iter([]))
        with pytest.raises(RunNotFound):
            store.judgements("nope")


def _aggregate(status: str, judgement: dict[str, Any] | None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "run": {"status": status},
        "summary": {"success_rate": 0.5, "total_conversations": 4},
        "latency": {"turn_ms": {"p95": 100.0}},
    }
    if judgement is not None:
        doc["judgement"] = judgement
    return doc


def test_finishing_a_judged_run_puts_its_pass_rate_in_the_summary(tmp_path: Path) -> None:
    summary = JudgementSummary.of("a1b2-base", _verdicts("a1b2-base", [True, False, False, False]))
    with ResultsStore(f"sqlite:///{tmp_path / 'results.sqlite'}") as store:
        fill(store)
        store.finish_from_aggregate("a1b2-base", _aggregate("finished", summary.model_dump(mode="json")))
        store.finish_from_aggregate("c3e5-fast", _aggregate("finished", None))
        judged = store.require_run("a1b2-base")
        assert judged.judge_pass_rate == 0.25 and judged.summary is not None
        assert judged.summary["success_rate"] == 0.5  # the aggregate's summary, with the judge's beside it
        assert store.require_run("c3e5-fast").judge_pass_rate is None
        assert "judge_pass_rate" not in (store.require_run("c3e5-fast").summary or {})
        # A run whose judge judged nothing has no pass rate (not 0 %, which would read as all failed).
        nothing = JudgementSummary.of("c3d4-slow", _verdicts("c3d4-slow", [None]))
        store.finish_from_aggregate("c3d4-slow", _aggregate("finished", nothing.model_dump(mode="json")))
        assert store.require_run("c3d4-slow").judge_pass_rate is None


@pytest.fixture
def judged_db(tmp_path: Path) -> str:
    """a1b2 passes 19 of 20 (95 %); c3d4 18 of 20 (90 %, -5 points: noise); c3e5 17 of 20 (85 %, -10)."""
    url = f"sqlite:///{tmp_path / 'results.sqlite'}"
    with ResultsStore(url) as store:
        fill(store)
        _judge(store, "a1b2-base", [True] * 19 + [False])
        _judge(store, "c3d4-slow", [True] * 18 + [False] * 2)
        _judge(store, "c3e5-fast", [True] * 17 + [False] * 3)
    return url


def test_compare_flags_a_judge_pass_rate_drop_of_more_than_5_points(judged_db: str) -> None:
    with ResultsStore(judged_db, create=False) as store:
        worse = store.compare("a1b2-base", "c3e5-fast")
        rate = worse.metric("judge pass rate")
        assert (rate.a, rate.b, rate.regression) == (0.95, 0.85, True)
        assert not worse.metric("judge mean score").regression  # shown, never a regression on its own
        assert worse.metric("judge mean score").b < worse.metric("judge mean score").a
        five = store.compare("a1b2-base", "c3d4-slow").metric("judge pass rate")
        assert round(five.delta or 0, 9) == -0.05 and not five.regression  # exactly 5 points: not more
        better = store.compare("c3e5-fast", "a1b2-base").metric("judge pass rate")
        assert not better.regression


def test_compare_of_unjudged_runs_has_no_judge_metrics(tmp_path: Path) -> None:
    with ResultsStore(f"sqlite:///{tmp_path / 'results.sqlite'}") as store:
        fill(store)
        names = {m.name for m in store.compare("a1b2-base", "c3e5-fast").metrics}
        assert not {"judge pass rate", "judge mean score"} & names
        _judge(store, "a1b2-base", [True])  # one side judged: shown, with nothing to compare against
        one = store.compare("a1b2-base", "c3e5-fast")
        assert one.metric("judge pass rate").b is None and not one.metric("judge pass rate").regression


def test_runs_compare_exits_1_on_a_judge_pass_rate_drop(judged_db: str) -> None:
    result = runner.invoke(runs_app, ["compare", "c3e5-fast", "a1b2-base", "--db", judged_db])
    assert "judge pass rate" in result.output and "judge mean score" in result.output
    assert "+10.00 pts" in result.output
    judge_line = next(line for line in result.output.splitlines() if "judge pass rate" in line)
    assert "REGRESSION" not in judge_line  # 85 % -> 95 % is better
    result = runner.invoke(runs_app, ["compare", "a1b2-base", "c3e5-fast", "--db", judged_db])
    assert result.exit_code == 1
    judge_line = next(line for line in result.output.splitlines() if "judge pass rate" in line)
    assert "REGRESSION" in judge_line and "95.00%" in judge_line and "85.00%" in judge_line


def test_runs_show_and_list_print_the_judge_pass_rate(judged_db: str, tmp_path: Path) -> None:
    shown = runner.invoke(runs_app, ["show", "c3e5", "--db", judged_db])
    assert shown.exit_code == 0, shown.output
    line = next(line for line in shown.output.splitlines() if "judge pass rate" in line)
    assert "85.00% of 20 judged" in line and "mean score" in line
    listed = runner.invoke(runs_app, ["list", "--db", judged_db])
    assert listed.exit_code == 0 and "judge pass" in listed.output
    assert "95.00%" in next(line for line in listed.output.splitlines() if "a1b2-base" in line)
    plain = f"sqlite:///{tmp_path / 'plain.sqlite'}"
    with ResultsStore(plain) as store:
        fill(store)
    assert "judge" not in runner.invoke(runs_app, ["list", "--db", plain]).output
    assert "judge" not in runner.invoke(runs_app, ["show", "a1b2", "--db", plain]).output
