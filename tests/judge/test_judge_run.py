"""`convoload judge RUN`: a finished run judged from its journal, offline; judge cost apart; replay."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from convoload import api
from convoload.config import Config
from convoload.events import Event, EventBus, Judged, LLMCalled
from convoload.hooks.base import Hook, HookContext, HookRunner
from convoload.judge.runner import JUDGEMENTS_NAME, SUMMARY_NAME, judge_run, read_judgements
from convoload.judge.setup import RubricChooser
from convoload.model.judgement import JudgementSummary
from convoload.store.journal import JOURNAL_NAME, read_journal
from convoload_demo.llmserver import LocalLLMServer
from tests.helpers import invoke, write
from tests.judge.helpers import local_judge, shipped, write_journal

# The bundled local provider (the judge) runs as a process of its own.
pytestmark = pytest.mark.e2e


class FailedJudgements(Hook):
    """Reports every conversation the judge failed (an `on_judgement` hook, as a user writes one)."""

    name = "failed_judgements"
    priority = "business"

    def on_judgement(self, ctx: HookContext, event: Judged) -> None:
        if event.judgement.passed is False:
            failed = [c.id for c in event.judgement.criteria if not c.passed]
            ctx.report(f"judge failed {', '.join(failed)}", criteria=failed)


@pytest.fixture(scope="module")
def tickets_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real small run of the bundled ticket agent (scripted customers), finished."""
    root = tmp_path_factory.mktemp("run")
    config = write(
        root / "run.yaml",
        "run: {conversations: 4, concurrency: 2, seed: 5, persona_assignment: round_robin}\n"
        "target: {type: demo, demo: {agent: tickets, reply_delay_s: 0, jitter_s: 0}}\n"
        "store: {enabled: false}\n",
    )
    report = api.run(str(config), runs_dir=root / "runs")
    assert report.run_dir is not None
    return Path(report.run_dir)


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_judge_run_writes_judgements_and_summary_and_replays(tickets_run: Path, tmp_path: Path) -> None:
    ran = invoke("judge", str(tickets_run), "--concurrency", "3", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert "goal_resolved" in ran.stdout and "judge cost" in ran.stdout and "local/judge" in ran.stdout
    journal = read_journal(tickets_run / JOURNAL_NAME)
    judgements = read_judgements(tickets_run)
    assert [j.session_id for j in judgements] == [r.session_id for r in journal]  # the journal's order
    assert {j.rubric for j in judgements} == {"tickets"}  # the personas' domain
    assert all(j.status == "judged" and len(j.criteria) == 5 and j.usage.llm_calls == 1 for j in judgements)
    for judgement, record in zip(judgements, journal, strict=True):
        assert judgement.passed == record.goal_reached  # the scripted customers' runs are clean
    summary = JudgementSummary.model_validate_json((tickets_run / SUMMARY_NAME).read_text(encoding="utf-8"))
    assert summary.conversations == 4 and summary.judged == 4 and summary.judges == ["local/judge"]
    assert summary.usage.total_tokens == sum(j.usage.total_tokens for j in judgements) > 0
    assert {p.name for p in summary.personas} == {r.persona for r in journal}

    again = invoke("judge", "run", str(tickets_run), cwd=tmp_path)  # same cache, same rubric and model
    assert again.returncode == 0, again.stderr
    replayed = read_judgements(tickets_run)
    assert all(j.usage.llm_calls == 0 and j.usage.replayed_calls == 1 for j in replayed)
    assert [j.criteria for j in replayed] == [j.criteria for j in judgements]
    fresh = invoke("judge", str(tickets_run), "--no-replay", cwd=tmp_path)
    assert fresh.returncode == 0 and all(j.usage.llm_calls == 1 for j in read_judgements(tickets_run))


def test_a_run_is_found_by_id_prefix_in_the_runs_folder(tickets_run: Path, tmp_path: Path) -> None:
    ran = invoke(
        "judge", tickets_run.name[:12], "--runs-dir", str(tickets_run.parent), "--no-replay", cwd=tmp_path
    )
    assert ran.returncode == 0, ran.stderr
    assert (tickets_run / JUDGEMENTS_NAME).is_file()


def test_judge_cost_is_counted_apart_from_the_users(llm: LocalLLMServer, tmp_path: Path) -> None:
    items = shipped("tickets")[:3]
    run_dir = write_journal(tmp_path / "r1", items)
    users_before = [r.usage.cost_usd for r in read_journal(run_dir / JOURNAL_NAME)]
    events: list[Event] = []
    judge = local_judge(llm, events=events, price=(1.0, 2.0, None))  # USD per million tokens
    summary = judge_run(run_dir, judge, RubricChooser(Config()), concurrency=2)
    judgements = read_judgements(run_dir)
    for j in judgements:
        u = j.usage
        assert u.cost_usd == pytest.approx((u.prompt_tokens * 1.0 + u.completion_tokens * 2.0) / 1e6)
        assert u.cost_usd > 0
    calls = [e for e in events if isinstance(e, LLMCalled)]
    assert len(calls) == 3 and {e.role for e in calls} == {"judge"}
    assert sum(e.cost_usd for e in calls) == pytest.approx(summary.usage.cost_usd)
    # the run's own (simulated users') cost is untouched: the judge writes beside the journal
    assert [r.usage.cost_usd for r in read_journal(run_dir / JOURNAL_NAME)] == users_before


def test_on_judgement_hooks_report_into_the_judgement(llm: LocalLLMServer, tmp_path: Path) -> None:
    good = next(i for i in shipped("tickets") if "good-edman" in i.id)
    rude = next(i for i in shipped("tickets") if i.id.endswith("rude"))
    run_dir = write_journal(tmp_path / "r1", [good, rude])
    bus = EventBus()
    HookRunner(bus, [FailedJudgements()])
    judge_run(run_dir, local_judge(llm, emit=bus.emit), RubricChooser(Config()))
    first, second = read_judgements(run_dir)
    assert first.findings == []
    assert [f.message for f in second.findings] == ["judge failed whatsapp_tone"]
    assert (
        second.findings[0].hook == "failed_judgements" and second.findings[0].persona == rude.record().persona
    )


def test_the_cli_runs_configured_on_judgement_hooks(tmp_path: Path) -> None:
    rude = next(i for i in shipped("tickets") if i.id.endswith("rude"))
    run_dir = write_journal(tmp_path / "runs" / "r1", [rude])
    config = write(tmp_path / "c.yaml", "hooks:\n  custom: ['tests.judge.test_judge_run:FailedJudgements']\n")
    ran = invoke("judge", str(run_dir), "-f", str(config), cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    (judgement,) = _lines(run_dir / JUDGEMENTS_NAME)
    assert [f["hook"] for f in judgement["findings"]] == ["failed_judgements"]


def test_a_judge_that_judges_nothing_exits_1(tmp_path: Path) -> None:
    item = shipped("tickets")[0]
    for turn in item.conversation["turns"]:
        turn["reply_text"] = None
    run_dir = write_journal(tmp_path / "runs" / "r1", [item])
    ran = invoke("judge", str(run_dir), cwd=tmp_path)
    assert ran.returncode == 1
    (judgement,) = read_judgements(run_dir)
    assert judgement.status == "judge_error" and "never replied" in (judgement.error or "")


def test_judge_run_names_a_missing_run(tmp_path: Path) -> None:
    ran = invoke("judge", "20990101-nothing", "--runs-dir", str(tmp_path), cwd=tmp_path)
    assert ran.returncode == 2 and "run '20990101-nothing'" in ran.stderr and "no journal.jsonl" in ran.stderr
