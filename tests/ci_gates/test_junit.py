"""--junit-xml's writer: a finished run, a pipeline and a capacity search as JUnit XML, valid against the
junit-10.xsd that CI servers read (see tests/ci_gates/runs.py for where the schema comes from), and laid
out as GitLab's JUnit parser reads it."""

from __future__ import annotations

import contextlib
import tracemalloc
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from convoload.model import Outcome, TurnError
from convoload.model.capacity import (
    CapacityResult,
    CapacitySettings,
    FailedConversation,
    SloCheck,
    StepStats,
    Verdict,
    parse_slo,
)
from convoload.model.judgement import CriterionScore, Judgement
from convoload.model.pipeline import CheckSummary, PipelineOverall, PipelineResults, ScenarioResult
from convoload.model.records import ErrorKind
from convoload.report.junit import Gate, write_capacity_junit, write_pipeline_junit, write_run_junit
from convoload.store.judgements import JUDGEMENTS_NAME
from tests.ci_gates.runs import conversation, junit_schema, mixed_conversations, write_run


def cases(path: Path) -> dict[str, ET.Element]:
    return {case.get("name"): case for case in ET.parse(path).iter("testcase")}


def status(case: ET.Element) -> str:
    for kind in ("failure", "error", "skipped"):
        if case.find(kind) is not None:
            return kind
    return "passed"


def gitlab_statuses(path: Path) -> dict[tuple[str, str], tuple[str, str | None]]:
    """What GitLab's JUnit parser (lib/gitlab/ci/parsers/test/junit.rb) takes from the file, restated:
    one top-level <testsuites>, test cases only inside a <testsuite> (nested suites allowed), the status
    from a failure / error / skipped child, and for a failed case the first [[ATTACHMENT|path]] of its
    system-out. Keyed by (suite name, case name): (status, attachment)."""
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    found: dict[tuple[str, str], tuple[str, str | None]] = {}

    def walk(suite: ET.Element) -> None:
        for case in suite.findall("testcase"):
            assert case.get("classname") and case.get("name")
            attachment = None
            out = case.findtext("system-out") or ""
            if "[[ATTACHMENT|" in out and case.find("failure") is not None:
                attachment = out.split("[[ATTACHMENT|", 1)[1].split("]]", 1)[0]
            found[(suite.get("name") or "", case.get("name") or "")] = (status(case), attachment)
        for inner in suite.findall("testsuite"):
            walk(inner)

    for suite in root.findall("testsuite"):
        walk(suite)
    return found


def test_a_run_is_one_case_per_conversation_each_outcome_told_apart(tmp_path: Path) -> None:
    report = write_run(tmp_path / "run-a", mixed_conversations())
    path = write_run_junit(
        tmp_path / "out" / "junit.xml", report, gates=[Gate("grade floor", False, "grade D (floor B)")]
    )
    junit_schema().validate(str(path))
    found = cases(path)
    assert {name: status(case) for name, case in found.items()} == {
        "Talliz #1 s001": "passed",
        "Edman #2 s002": "failure",
        "Kataryna #3 s003": "error",
        "Talliz #4 s004": "skipped",
        "Edman #5 s005": "skipped",
        "grade floor": "failure",
    }
    assert found["Edman #2 s002"].get("classname") == "Edman"
    failure = found["Edman #2 s002"].find("failure")
    assert failure is not None and failure.get("message") == "goal not reached: max_iterations after 5 turns"
    # The last three turns of five, and the transcript's file.
    assert (
        "… 2 earlier turn(s)" in failure.text
        and "[5] agent (vendas) [0.12 s]: Claro! Qual data? (5)" in failure.text
    )
    assert "[2] user:" not in failure.text and "conversation_00002_s002.json" in failure.text
    error = found["Kataryna #3 s003"].find("error")
    assert error is not None and error.get("type") == "http_status"
    assert "[2] error http_status 500: HTTP 500 from the agent" in error.text
    skipped = found["Edman #5 s005"].find("skipped")
    assert skipped is not None and skipped.get("type") == "simulator_error"
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == (
        "6",
        "2",
        "1",
        "2",
    )
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["grade"] == "D" and properties["goal_rate"] == "25.00%" and properties["seed"] == "7"


def test_gitlab_reads_each_case_and_links_failures_to_their_transcript(tmp_path: Path) -> None:
    report = write_run(tmp_path / "runs" / "run-a", mixed_conversations())
    with contextlib.chdir(tmp_path):  # a CI job: run folders under the project, artifacts relative to it
        path = write_run_junit(Path("junit.xml"), report)
    seen = gitlab_statuses(tmp_path / "junit.xml")
    suite = "convoload run run-a"
    assert seen[(suite, "Edman #2 s002")] == (
        "failure",
        "runs/run-a/conversations/conversation_00002_s002.json",
    )
    assert seen[(suite, "Talliz #1 s001")] == ("passed", None)
    assert seen[(suite, "Kataryna #3 s003")][0] == "error"
    assert (tmp_path / seen[(suite, "Edman #2 s002")][1]).is_file()  # the attachment is a real artifact
    failure = ET.parse(tmp_path / path).find(".//failure")
    assert failure is not None and failure.get("message") and failure.text  # GitLab shows the text


def test_text_no_xml_can_hold_and_markup_in_replies_still_make_a_valid_file(tmp_path: Path) -> None:
    nasty = 'fim\x00\x07 <b>"negrito"</b> & ]]> \x1b[31m \ufffe'
    records = [conversation(1, Outcome.MAX_ITERATIONS, reply=nasty, persona='Zé "<aspas>"')]
    report = write_run(tmp_path / "run-a", records)
    path = write_run_junit(tmp_path / "junit.xml", report)
    junit_schema().validate(str(path))
    failure = ET.parse(path).find(".//failure")
    assert failure is not None
    assert 'fim\ufffd\ufffd <b>"negrito"</b> & ]]> \ufffd[31m \ufffd' in failure.text
    assert ET.parse(path).find(".//testcase").get("classname") == 'Zé "<aspas>"'


def test_a_conversation_the_judge_failed_fails_with_the_judges_reason(tmp_path: Path) -> None:
    report = write_run(tmp_path / "run-a", [conversation(1, Outcome.GOAL_REACHED)])
    verdict = Judgement(
        run_id="run-a",
        session_id="s001",
        user_id=1,
        persona="Talliz",
        rubric="tickets",
        status="judged",
        passed=False,
        score=0.25,
        criteria=[
            CriterionScore(id="tone", score=1, normalised=0.0, passed=False, reason="respondeu seco"),
            CriterionScore(id="goal", score=5, normalised=1.0, passed=True, reason="ok"),
        ],
    )
    (tmp_path / "run-a" / JUDGEMENTS_NAME).write_text(verdict.model_dump_json() + "\n")
    path = write_run_junit(tmp_path / "junit.xml", report)
    junit_schema().validate(str(path))
    failure = ET.parse(path).find(".//failure")
    assert failure is not None and failure.get("type") == "judge"
    assert failure.get("message") == "judge (tickets) failed it: tone: respondeu seco"
    assert "judge: failed (score 0.25)" in (ET.parse(path).findtext(".//system-out") or "")


@pytest.mark.slow
def test_a_long_run_is_written_in_constant_memory(tmp_path: Path) -> None:
    """The journal is read one conversation at a time and the cases spooled: what the writer holds does
    not grow with the run (a run of 2,000 long conversations here, whose journal is megabytes)."""
    long_reply = "Temos ingressos para sábado e domingo, com meia-entrada. " * 40
    records = [conversation(i, Outcome.MAX_ITERATIONS, turns=6, reply=long_reply) for i in range(1, 2001)]
    report = write_run(tmp_path / "run-a", records)
    del records
    journal_bytes = (tmp_path / "run-a" / "journal.jsonl").stat().st_size
    tracemalloc.start()
    try:
        path = write_run_junit(tmp_path / "junit.xml", report)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert journal_bytes > 20_000_000
    assert peak < journal_bytes / 20, f"peak {peak} bytes for a journal of {journal_bytes}"
    assert ET.parse(path).getroot().get("failures") == "2000"


def test_a_pipeline_is_a_suite_per_scenario_with_its_conversations_checks_and_grade(tmp_path: Path) -> None:
    booking = write_run(
        tmp_path / "booking-1",
        [conversation(1, Outcome.GOAL_REACHED), conversation(2, Outcome.GOAL_REACHED)],
        run_id="booking-1",
    )
    assert booking.run_dir is not None
    refused = TurnError(kind=ErrorKind.HTTP_STATUS, message="HTTP 400: empty message", status_code=400)
    http_400 = conversation(1, Outcome.ERROR, error=refused, run_id="bad-1")
    bad_input = write_run(tmp_path / "bad-1", [http_400], run_id="bad-1")
    assert bad_input.run_dir is not None
    scenario = ScenarioResult(
        name="booking",
        conversations=2,
        successful=1,
        success_rate=0.5,
        health="degraded",
        grade="D",
        integration={"coherence": 1.0, "data_consistency": 0.5},
        checks={
            "data_consistency": CheckSummary(
                checked=2, mismatches=[{"session_id": "s002", "iteration": 2, "field": "price"}]
            )
        },
        runs=[str(booking.run_dir)],
    )
    graceful = ScenarioResult(
        name="bad_input",
        conversations=1,
        successful=1,
        success_rate=1.0,
        health="healthy",
        grade="A+",
        checks={"data_consistency": CheckSummary(error="catalog down")},
        runs=[str(bad_input.run_dir)],
    )
    results = PipelineResults(
        pipeline_id="pipeline-x",
        scenarios=[scenario, graceful],
        overall=PipelineOverall(health="degraded", grade="D"),
        skipped_scenarios=["high_volume"],
        stopped_by="SIGTERM",
    )
    # bad_input's rule: every message answered, a refusal counts (as `success: graceful` says).
    path = write_pipeline_junit(
        tmp_path / "junit.xml",
        results,
        lambda name, record: record.goal_reached if name == "booking" else True,
        grade_floor="B",
    )
    junit_schema().validate(str(path))
    seen = gitlab_statuses(path)
    assert seen[("booking", "Talliz #1 s001")][0] == "passed"
    # It reached its goal, but the catalog contradicts what it was told.
    assert seen[("booking", "Talliz #2 s002")][0] == "failure"
    assert seen[("booking", "check data_consistency")][0] == "failure"
    assert seen[("booking", "grade")][0] == "failure"
    assert seen[("bad_input", "Talliz #1 s001")][0] == "passed"
    assert seen[("bad_input", "check data_consistency")][0] == "error"
    assert seen[("bad_input", "grade")][0] == "passed"
    assert seen[("not started", "high_volume")][0] == "skipped"
    found = cases(path)
    assert found["Talliz #2 s002"].get("classname") == "booking.Talliz"
    message = found["Talliz #2 s002"].find("failure").get("message")
    assert message == "the scenario's success rule or a domain check failed it"
    grade = ET.parse(path).find("testsuite[@name='booking']/testcase[@name='grade']/failure")
    assert grade is not None and grade.get("message") == "grade D (floor B)"


def test_a_capacity_search_is_a_case_per_step_with_its_slo_verdicts(tmp_path: Path) -> None:
    goal, p95 = parse_slo("goal_rate>=0.9"), parse_slo("p95_turn_s<=2")

    def step(index: int, users: int, goal_rate: float, p95_s: float) -> StepStats:
        checks = [
            SloCheck(slo=goal, value=goal_rate, passed=goal.holds(goal_rate)),
            SloCheck(slo=p95, value=p95_s, passed=p95.holds(p95_s)),
        ]
        return StepStats(
            index=index,
            users=users,
            start_s=10.0 * index,
            measure_from_s=10.0 * index + 2,
            end_s=10.0 * index + 10,
            conversations_started=users * 2,
            conversations_finished=users * 2,
            goal_rate=goal_rate,
            p95_turn_s=p95_s,
            checks=checks,
            passed=all(c.passed for c in checks),
            failed_conversations=[
                FailedConversation(
                    session_id="s9",
                    user_id=9,
                    persona="Edman",
                    outcome="max_iterations",
                    transcript="conversations/conversation_00009_s9.json",
                )
            ]
            if goal_rate < 1
            else [],
        )

    steps = [step(0, 2, 1.0, 0.5), step(1, 4, 0.75, 3.5)]
    result = CapacityResult(
        run_id="cap-1",
        settings=CapacitySettings(
            steps=[2, 4, 8], step_duration_s=8, warm_up_s=2, abort_after_s=30, abort=True, slos=[goal, p95]
        ),
        steps=steps,
        verdict=Verdict(knee_users=2, broke_users=4, broken=steps[1].broken),
        stopped_early="step 2 broke an SLO",
    )
    path = write_capacity_junit(
        tmp_path / "junit.xml",
        result,
        run_dir=tmp_path / "cap-1",
        gates=[Gate("min users", False, "capacity 2 users (floor 4)")],
    )
    junit_schema().validate(str(path))
    found = cases(path)
    assert {name: status(case) for name, case in found.items()} == {
        "step 1: 2 users": "passed",
        "step 2: 4 users": "failure",
        "step 3: 8 users": "skipped",
        "min users": "failure",
    }
    failure = found["step 2: 4 users"].find("failure")
    assert (
        failure.get("message") == "4 users broke goal_rate>=0.9 (measured 0.75), p95_turn_s<=2 (measured 3.5)"
    )
    assert "conversation_00009_s9.json" in failure.text
    assert "met   goal_rate>=0.9 (measured 1)" in found["step 1: 2 users"].findtext("system-out")
    assert found["step 3: 8 users"].find("skipped").get("message") == "step 2 broke an SLO"
    properties = {p.get("name"): p.get("value") for p in ET.parse(path).iter("property")}
    assert properties["knee_users"] == "2" and properties["slos"] == "goal_rate>=0.9 p95_turn_s<=2"
