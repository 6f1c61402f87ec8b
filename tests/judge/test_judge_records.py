"""A judged run's records: `convoload judge RUN` leaves the run as if it had been judged while it ran
(aggregate.json's `judgement`, conversations.csv's judge columns, report.html's Judge section, each
conversation's file, the results store), judging again replaces it all, and `judge.enabled` runs
write the same; aggregate.json is rewritten with its conversations streamed from the old file."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from convoload import api
from convoload.model.report import RunReport
from convoload.report.rebuild import rebuild_run
from convoload.report.tables import CONVERSATIONS_CSV, read_aggregate_streamed
from convoload.store.journal import AGGREGATE_NAME, CONVERSATIONS_DIR, write_json_streamed
from convoload.store.judgements import SUMMARY_NAME, iter_judgements
from convoload.store.results import ResultsStore
from convoload.store.results.engine import default_store_url
from tests.helpers import invoke, write

RUN = (
    "run: {conversations: 4, concurrency: 2, seed: 5, persona_assignment: round_robin}\n"
    "target: {type: demo, demo: {agent: tickets, reply_delay_s: 0, jitter_s: 0}}\n"
)


def _csv(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


def _conversation_files(run_dir: Path) -> dict[str, dict]:
    files = sorted((run_dir / CONVERSATIONS_DIR).glob("conversation_*.json"))
    return {(doc := json.loads(p.read_text(encoding="utf-8")))["summary"]["session_id"]: doc for p in files}


@pytest.mark.e2e  # a real run, then the bundled local provider judges it as a process of its own
def test_judge_run_updates_every_record_of_the_run_and_judging_again_replaces_them(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    report = api.run(str(write(tmp_path / "run.yaml", RUN)), runs_dir=runs)
    run_dir = Path(report.run_dir or "")
    before = json.loads((run_dir / AGGREGATE_NAME).read_text(encoding="utf-8"))
    csv_before = _csv(run_dir / CONVERSATIONS_CSV)
    assert "judge_passed" not in csv_before[0]  # an unjudged run's CSV keeps its columns
    assert 'data-section="judge"' not in (run_dir / "report.html").read_text(encoding="utf-8")

    ran = invoke("judge", str(run_dir), cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert "results store: 4 judgements" in ran.stdout

    summary = json.loads((run_dir / SUMMARY_NAME).read_text(encoding="utf-8"))
    after = json.loads((run_dir / AGGREGATE_NAME).read_text(encoding="utf-8"))
    assert list(after) == [*before, "judgement"] and after["judgement"] == summary
    assert after["conversations"] == before["conversations"]  # streamed from the old file, unchanged
    assert RunReport.from_document(after).to_document() == after
    judge_cost = round(summary["usage"]["cost_usd"], 8)
    assert after["summary"]["judge_cost_usd"] == judge_cost
    costs = ("judge_cost_usd", "cost_per_success_usd")  # the judge's cost now counted in them
    assert {k: v for k, v in after["summary"].items() if k not in costs} == {
        k: v for k, v in before["summary"].items() if k not in costs
    }

    verdicts = {j.session_id: j for j in iter_judgements(run_dir)}
    assert len(verdicts) == 4 and all(j.status == "judged" for j in verdicts.values())
    rows = _csv(run_dir / CONVERSATIONS_CSV)
    assert rows[0] == [*csv_before[0], "judge_passed", "judge_score"]
    for old, new in zip(csv_before[1:], rows[1:], strict=True):
        judgement = verdicts[old[1]]
        assert new == [*old, str(judgement.passed), str(judgement.score)]

    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert 'data-section="judge"' in html and html.count('data-verdict="judged"') == 4

    files = _conversation_files(run_dir)
    assert set(files) == set(verdicts)
    for session, document in files.items():
        assert document["judgement"]["session_id"] == session
        assert document["judgement"]["criteria"] == [
            c.model_dump(mode="json") for c in verdicts[session].criteria
        ]

    with ResultsStore(default_store_url(runs), create=False) as store:
        stored = store.judgements(report.run_id or "")
        row = store.require_run(report.run_id or "")
    assert sorted(r.session_id for r in stored) == sorted(verdicts)
    assert all(r.criteria and all(c.reason for c in r.criteria) for r in stored)
    assert row.judge_pass_rate == summary["pass_rate"] and row.judge_mean_score == summary["mean_score"]
    assert row.summary is not None and row.summary["judge_cost_usd"] == judge_cost

    again = invoke("judge", str(run_dir), "--no-replay", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    twice = json.loads((run_dir / AGGREGATE_NAME).read_text(encoding="utf-8"))
    assert list(twice) == list(after)  # the judgement replaced in its place, not added again
    assert _csv(run_dir / CONVERSATIONS_CSV)[0] == rows[0]
    with ResultsStore(default_store_url(runs), create=False) as store:
        assert len(store.judgements(report.run_id or "")) == 4  # replaced, not doubled
    assert all("judgement" in doc for doc in _conversation_files(run_dir).values())

    # Rebuilt from its journal (`convoload report`), a judged run stays judged.
    rebuilt = rebuild_run(run_dir)
    assert rebuilt["judgement"] == json.loads((run_dir / SUMMARY_NAME).read_text(encoding="utf-8"))
    assert _csv(run_dir / CONVERSATIONS_CSV)[0][-2:] == ["judge_passed", "judge_score"]


@pytest.mark.e2e
def test_a_run_with_judge_enabled_writes_the_same_records(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    config = write(tmp_path / "run.yaml", RUN + "judge: {enabled: true, rubric: tickets}\n")
    report = api.run(str(config), runs_dir=runs)
    run_dir = Path(report.run_dir or "")
    verdicts = {j.session_id: j for j in iter_judgements(run_dir)}
    assert len(verdicts) == 4
    rows = _csv(run_dir / CONVERSATIONS_CSV)
    assert rows[0][-2:] == ["judge_passed", "judge_score"]
    assert {r[1]: r[-2] for r in rows[1:]} == {s: str(j.passed) for s, j in verdicts.items()}
    files = _conversation_files(run_dir)
    passed = {s: j.passed for s, j in verdicts.items()}
    assert {s: d["judgement"]["passed"] for s, d in files.items()} == passed
    assert 'data-section="judge"' in (run_dir / "report.html").read_text(encoding="utf-8")
    with ResultsStore(default_store_url(runs), create=False) as store:
        assert len(store.judgements(report.run_id or "")) == 4
        row = store.require_run(report.run_id or "")
    assert report.judgement is not None and row.judge_pass_rate == report.judgement.pass_rate


def test_a_journal_only_run_folder_gets_its_conversation_files_and_no_aggregate(tmp_path: Path) -> None:
    """The store off: `judge RUN` writes no results database where there was none."""
    from tests.judge.helpers import shipped, write_journal

    items = shipped("tickets")[:2]
    run_dir = write_journal(tmp_path / "runs" / "r1", items)
    (run_dir / CONVERSATIONS_DIR).mkdir()
    first = items[0].record()
    name = f"conversation_{first.user_id:05d}_{first.session_id}.json"
    (run_dir / CONVERSATIONS_DIR / name).write_text(json.dumps(items[0].conversation), encoding="utf-8")
    ran = invoke("judge", str(run_dir), cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert not (run_dir / AGGREGATE_NAME).exists() and not (run_dir / "report.html").exists()
    assert not (tmp_path / "runs" / "results.sqlite").exists()
    (document,) = _conversation_files(run_dir).values()
    assert document["judgement"]["session_id"] == first.session_id
    assert "conversation files given their judgement: 1" in ran.stdout


def test_a_bad_db_is_refused_before_any_judging(tmp_path: Path) -> None:
    from tests.judge.helpers import shipped, write_journal

    run_dir = write_journal(tmp_path / "runs" / "r1", shipped("tickets")[:1])
    ran = invoke("judge", str(run_dir), "--db", "nosuchdriver://x/y", cwd=tmp_path)
    assert ran.returncode == 2 and "--db" in ran.stderr
    assert not (run_dir / "judgements.jsonl").exists()


def test_the_aggregate_is_read_back_streamed_and_rewritten_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / AGGREGATE_NAME
    conversations = [{"session_id": f"s-{i}", "nested": {"list": [1, {"k": "  ]"}]}} for i in range(3)]
    document = {"run": {"run_id": "r"}, "conversations": [], "summary": {"x": [1, 2]}, "assessment": None}
    write_json_streamed(path, document, "conversations", iter(conversations))
    original = path.read_bytes()
    head, items = read_aggregate_streamed(path)
    assert head == document and list(items()) == conversations
    write_json_streamed(tmp_path / "copy.json", head, "conversations", items())
    assert (tmp_path / "copy.json").read_bytes() == original
    # A file laid out otherwise (compact, by another tool) is read whole, with the same result.
    path.write_text(json.dumps({**document, "conversations": conversations}), encoding="utf-8")
    head, items = read_aggregate_streamed(path)
    assert head == document and list(items()) == conversations
    # An empty list, and the list last.
    write_json_streamed(path, {"run": {}, "conversations": []}, "conversations", iter([]))
    head, items = read_aggregate_streamed(path)
    assert head == {"run": {}, "conversations": []} and list(items()) == []


def test_a_rebuilt_judged_run_keeps_the_judges_cost(tmp_path: Path) -> None:
    from convoload.model.judgement import JudgementSummary, JudgeUsage
    from tests.distributed.test_merge import make_records

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    records = make_records(6, seed=2)
    (run_dir / "journal.jsonl").write_bytes(b"".join(r.to_json() + b"\n" for r in records))
    usage = JudgeUsage(cost_usd=0.25, llm_calls=6)
    judgement = JudgementSummary(run_id="r", conversations=6, judged=6, passed=6, pass_rate=1.0, usage=usage)
    (run_dir / SUMMARY_NAME).write_text(judgement.model_dump_json(), encoding="utf-8")
    summary = rebuild_run(run_dir)["summary"]
    # The judge's calls are not in the journal; its summary carries what they cost.
    assert summary["judge_cost_usd"] == 0.25
    goals = sum(r.goal_reached for r in records)
    spent = summary["simulator_cost_usd"] + 0.25 + summary["agent_cost_usd"]
    assert goals and summary["cost_per_success_usd"] == pytest.approx(spent / goals, abs=1e-8)
