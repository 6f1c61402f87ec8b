"""The typed RunReport is aggregate.json: every shape convoload writes (a single run, a pipeline's
scenario runs; a distributed master's in tests/distributed) reads into it and writes back as the same
JSON text, and what reads a report reads the same figures from the typed view as from the document.
So is the typed PipelineResults real_test_results.json, the pipeline's results."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

import convoload
from convoload import Hook, PipelineResults, RunReport, ScenarioResult, TargetReply
from convoload.model import ErrorKind, PipelineOverall
from convoload.model.report import Assessment
from convoload.pipeline import CheckResult, DomainCheck, Mismatch, Scenario, ScenarioSuite
from convoload.pipeline.runner import run_pipeline, target_system
from convoload.report.aggregate import aggregate
from convoload.report.console import print_summary
from convoload.report.grading import assess, assess_report, mark_incomplete
from convoload.report.html import render_html
from convoload.store.journal import read_journal
from convoload.targets.base import TargetError
from convoload.users.fixed import FixedUser


def as_written(document: dict) -> str:
    """The text convoload writes for a document (store.journal.write_json)."""
    return json.dumps(document, ensure_ascii=False, indent=2)


class Flaky:
    """A python-object target: fails every third turn with HTTP 503, else answers; a link on turn 3."""

    kind = "flaky"

    def __init__(self) -> None:
        self.turns = 0

    def send(self, session, text, iteration):
        self.turns += 1
        if self.turns % 3 == 0:
            raise TargetError(ErrorKind.HTTP_STATUS, "HTTP 503: busy", status_code=503)
        reply = f"https://pay.example.com/{session.session_id}" if iteration >= 3 else "e depois?"
        return TargetReply(text=reply, messages=[reply], agent=f"agent-{iteration % 2}", latency_ms=3.5)

    def stats(self):
        return {"callbacks_accepted": self.turns, "callbacks_forged": 1}

    def finish(self, session):
        pass

    def close(self):
        pass


class Noticing(Hook):
    name = "noticing"
    priority = "business"

    def on_reply(self, ctx, turn, raw):
        ctx.report(f"reply to turn {turn.iteration}", iteration=turn.iteration)


def test_a_single_run_reads_back_byte_for_byte(tmp_path: Path) -> None:
    report = convoload.run(
        conversations=5,
        concurrency=2,
        seed=3,
        max_iterations=4,
        runs_dir=tmp_path,
        target=Flaky(),
        hooks=[Noticing()],
        user=lambda persona, identity, session: FixedUser(["oi", "quero", "fechar", "obrigado"]),
    )
    assert report.run_dir is not None
    text = (report.run_dir / "aggregate.json").read_text(encoding="utf-8")
    document = json.loads(text)
    # The run's shape has what this test is about: errors, findings, target counters, an assessment.
    assert document["summary"]["errors_by_kind"] and document["findings"]["by_hook"]["noticing"]
    assert document["run"]["target_stats"]["callbacks_forged"] == 1 and document["assessment"]

    read = RunReport.read(report.run_dir)
    assert as_written(read.to_document()) == text
    # What `run` returned is the file too, its conversations read from the journal on demand.
    returned = report.model_copy(update={"conversations": list(report.iter_conversations())})
    assert as_written(returned.to_document()) == text
    # The typed view says what the document says.
    assert read.summary.errors_by_kind == document["summary"]["errors_by_kind"]
    assert read.latency.turn_ms.p95 == document["latency"]["turn_ms"]["p95"]
    assert read.requests["MESSAGE"].all.failures == document["requests"]["MESSAGE"]["all"]["failures"]
    assert read.findings.by_hook["noticing"].examples[0].message.startswith("reply to turn")
    assert read.run.target is not None and read.run.target.type == "flaky"
    assert read.run.plan is not None and read.run.plan.conversations == 5
    assert [c.session_id for c in read.conversations] == [c["session_id"] for c in document["conversations"]]
    failed = [c for c in read.conversations if c.error is not None]
    assert failed and all(c.error.kind == "http_status" for c in failed)
    assert read.assessment is not None and read.assessment.to_document() == document["assessment"]
    assert assess_report(read) == read.assessment  # graded again from the typed view: the same verdict


def _echo(text, session, iteration):
    return {"text": f"ok: {text}", "agent": "echo"}


def _quoted(records, system):
    """A domain check: every reply quotes the message (the echo quotes all but "tchau")."""
    result = CheckResult()
    for record in records:
        for turn in record.turns:
            result.checked += 1
            if turn.user_text == "tchau":
                result.mismatches.append(Mismatch(record.session_id, turn.iteration))
    return result


ECHO_SUITE = ScenarioSuite(
    name="echo",
    personas=("renata",),
    scenarios=(
        Scenario(
            name="hello",
            conversations=2,
            success="graceful",
            scripts=[["oi", "tchau"], ["hello"]],
            checks=["quoted"],
        ),
        Scenario(name="plain", description="no check run", conversations=1, scripts=[["oi"]]),
    ),
    checks=(DomainCheck("quoted", _quoted, advice="replies did not quote"),),
)


@pytest.fixture(scope="module")
def echo_pipeline(tmp_path_factory: pytest.TempPathFactory) -> PipelineResults:
    system = target_system("echo", {"type": "python", "function": f"{__name__}:_echo"})
    return run_pipeline(ECHO_SUITE, system, runs_dir=tmp_path_factory.mktemp("runs"), repeat=2)


def test_a_pipeline_s_scenario_runs_read_back_byte_for_byte(echo_pipeline: PipelineResults) -> None:
    scenario = echo_pipeline.scenario("hello")
    assert len(scenario.runs) == 2
    records = []
    for run in scenario.runs:
        text = (Path(run) / "aggregate.json").read_text(encoding="utf-8")
        assert as_written(RunReport.read(run).to_document()) == text
        records += read_journal(Path(run) / "journal.jsonl")
    # The scenario's figures are the typed view of the aggregate of its runs' conversations, as written.
    document = aggregate(records)
    assert scenario.latency_ms.to_document() == document["latency"]["turn_ms"]
    assert list(scenario.latency_ms.to_document()) == list(document["latency"]["turn_ms"])
    assert {k: v.to_document() for k, v in scenario.findings.items()} == document["findings"]["by_hook"]


def test_a_pipeline_s_results_read_back_byte_for_byte(echo_pipeline: PipelineResults) -> None:
    assert echo_pipeline.folder is not None
    text = (echo_pipeline.folder / "real_test_results.json").read_text(encoding="utf-8")
    document = json.loads(text)
    read = PipelineResults.read(echo_pipeline.folder)
    assert as_written(read.to_document()) == text
    assert as_written(echo_pipeline.to_document()) == text  # what run_pipeline returned is the file too
    assert read == echo_pipeline and read.folder == echo_pipeline.folder
    assert "folder" not in document  # where the file is, not what it says
    # The file's layout, as every earlier pipeline wrote it: a check's section is a key of the scenario,
    # between its quality metrics and its health; pass^k last (with more than one repetition).
    hello = document["scenarios"][0]
    assert list(hello) == [
        "name",
        "description",
        "conversations",
        "successful",
        "success_rate",
        "latency_ms",
        "per_agent",
        "integration",
        "quoted",
        "health",
        "grade",
        "error_rate",
        "recommendations",
        "findings",
        "runs",
        "pass_k",
    ]
    assert list(document) == ["pipeline_id", "timestamp", "repeat", "system", "scenarios", "overall"]
    # The typed view says what the document says.
    quoted = read.scenario("hello").checks["quoted"]
    assert quoted.checked == hello["quoted"]["checked"] == 6  # 3 turns x 2 repetitions
    assert len(quoted.mismatches) == 2 and quoted.mismatches == hello["quoted"]["mismatches"]
    assert read.scenario("hello").integration["quoted"] == hello["integration"]["quoted"] < 1
    assert read.scenario("plain").checks["quoted"].to_document() == {"checked": 0, "mismatches": []}
    assert read.scenario("plain").description == "no check run"
    assert read.scenario("plain").pass_k is not None and read.scenario("plain").pass_k.k == 2
    assert read.overall.grade == document["overall"]["grade"] and read.complete
    assert read.system.assistant == document["system"]["assistant"] and read.system.catalog is None
    assert PipelineResults.of(document) == read.model_copy(update={"folder": None})
    with pytest.raises(KeyError):
        read.scenario("nope")


def test_a_pipeline_document_keeps_its_key_order_and_unknown_keys(echo_pipeline: PipelineResults) -> None:
    # Incomplete results (a scenario cut short, scenarios skipped) and keys a tool added anywhere: the
    # order read is the order written, the checks go back where they were.
    document = echo_pipeline.to_document()
    hello = document["scenarios"][0]
    hello["complete"] = False
    document["scenarios"][0] = {"note": "added", **hello}
    document["overall"]["complete"] = False
    document = {**document, "stopped_by": "SIGTERM", "skipped_scenarios": ["later"], "extra": {"a": 1}}
    read = PipelineResults.from_document(document)
    assert as_written(read.to_document()) == as_written(document)
    assert read.scenarios[0].complete is False and read.stopped_by == "SIGTERM" and not read.complete
    assert read.scenarios[0].checks.keys() == {"quoted"}
    moved = {**document, "scenarios": [dict(reversed(hello.items())), document["scenarios"][1]]}
    assert as_written(PipelineResults.from_document(moved).to_document()) == as_written(moved)


def test_results_built_in_code_write_the_files_layout() -> None:
    scenario = ScenarioResult(
        name="s",
        integration={"coherence": 1.0, "prices": 0.5},
        checks={"prices": {"checked": 2, "mismatches": [{"session_id": "x", "iteration": 1}]}},
        health="healthy",
        grade="A+",
    )
    assert list(scenario.to_document()) == ["name", "integration", "prices", "health", "grade"]
    assert ScenarioResult.model_validate(scenario.to_document()) == scenario


def test_one_incomplete_rule_for_runs_scenarios_and_pipelines() -> None:
    done = ["No action needed: every check passed."]
    verdicts = [
        Assessment(grade="A+", health="healthy", recommendations=done),
        ScenarioResult(name="s", grade="A", health="healthy", recommendations=done),
        PipelineOverall(grade="C", health="critical", recommendations=["s: look"]),
    ]
    for verdict in verdicts:
        marked = mark_incomplete(verdict, "Incomplete: stopped.")
        assert type(marked) is type(verdict) and verdict.complete is None  # a copy: the verdict stays
        assert marked.complete is False and list(marked.to_document())[-1] == "complete"
        assert marked.recommendations[0] == "Incomplete: stopped."
        assert not any(line.startswith("No action needed") for line in marked.recommendations)
    assert [(m.grade, m.health) for m in (mark_incomplete(v, "x") for v in verdicts)] == [
        ("B", "warning"),
        ("B", "warning"),
        ("C", "critical"),  # already worse than the cap: as it was
    ]
    assert mark_incomplete(verdicts[2], "x").recommendations == ["x", "s: look"]


def test_keys_come_back_in_the_order_they_were_read() -> None:
    # A distributed master's run.json lists `distributed` before `target_stats`, and a tool may add keys
    # anywhere: the order read is the order written, at every level.
    document = aggregate([], {"run_id": "m", "seed": 1, "distributed": {"workers": []}, "target_stats": {}})
    document = {"note": "added by a tool", **document, "assessment": assess(document)}
    document["summary"] = {"extra": 1, **document["summary"]}
    report = RunReport.from_document(document)
    assert as_written(report.to_document()) == as_written(document)
    assert list(report.to_document()["run"]) == ["run_id", "seed", "distributed", "target_stats"]
    # Read in another order, the same report compares equal: the order is the file's, not the data's.
    assert RunReport.from_document(dict(reversed(document.items()))) == report


def test_old_and_partial_documents_read_with_defaults_and_write_back_unchanged() -> None:
    old = {"run": {"run_id": "old", "target": "http://agent.example"}, "summary": {"total_conversations": 2}}
    report = RunReport.of(old)
    assert report.to_document() == old
    assert report.run.target == "http://agent.example" and report.summary.tokens.total == 0
    assert report.complete and report.grade is None and RunReport.of(report) is report


def test_the_readers_take_the_typed_report_or_its_document_alike(tmp_path: Path) -> None:
    report = convoload.run(
        conversations=3,
        runs_dir=tmp_path,
        target=Flaky(),
        user=lambda persona, identity, session: FixedUser(["oi", "quero", "fechar"]),
    )
    document = report.to_document()

    def printed(source) -> str:
        console = Console(record=True, width=160, file=io.StringIO(), color_system=None)
        print_summary(console, source)
        return console.export_text()

    assert printed(report) == printed(document)
    assert "goal reached" in printed(report)
    records = read_journal(report.run_dir / "journal.jsonl")
    assert render_html(report, records) == render_html(document, records)
    assert assess(report) == assess(document) == report.assessment.to_document()


@pytest.mark.parametrize(
    "completion", [{"complete": True, "planned_conversations": 4, "finished_conversations": 4}, None]
)
def test_a_complete_run_or_one_that_does_not_say_is_not_capped(completion) -> None:
    summary = {"total_conversations": 4, "successful_conversations": 4, "success_rate": 1.0}
    if completion is not None:
        summary["completion"] = completion
    verdict = assess_report({"summary": summary})
    assert verdict.complete is None and verdict.grade == "A+" and "complete" not in verdict.to_document()
    assert verdict.recommendations == ["No action needed: every check passed."]


def test_an_incomplete_run_is_capped_from_its_typed_completion() -> None:
    summary = {
        "total_conversations": 4,
        "successful_conversations": 4,
        "success_rate": 1.0,
        "completion": {
            "complete": False,
            "planned_conversations": None,
            "finished_conversations": 4,
            "stopped_by": "SIGTERM",
            "planned_users": 5,
            "planned_duration_s": 30.0,
        },
    }
    verdict = assess_report({"summary": summary})
    assert (verdict.grade, verdict.health, verdict.complete) == ("B", "warning", False)
    assert verdict.recommendations[0].startswith(
        "Incomplete run: 4 conversations finished (planned: 5 users for 30 s) (stopped by SIGTERM)."
    )
