"""The CI gates through the `convoload` command: --junit-xml, --summary-md, $GITHUB_STEP_SUMMARY and
--baseline on run, capacity and pipeline; `runs export`, and `runs compare` against another store or an
exported file, exiting 1 on a regression."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from convoload.model.pipeline import RESULTS_FILE, PipelineOverall, PipelineResults, ScenarioResult
from tests.ci_gates.runs import junit_schema
from tests.helpers import invoke, run_dirs, write


def cli(*args: str, **env: str | None):
    """`convoload ARGS` away from any database or GitHub step summary the shell running the tests names."""
    return invoke(*args, env={"CONVOLOAD_DB_URL": None, "GITHUB_STEP_SUMMARY": None, **env})


def statuses(path: Path) -> list[str]:
    found = []
    for case in ET.parse(path).iter("testcase"):
        kinds = [k for k in ("failure", "error", "skipped") if case.find(k) is not None]
        found.append(f"{case.get('name')}: {kinds[0] if kinds else 'passed'}")
    return found


@pytest.fixture
def agents(local_app):
    """An agent that books at once, and one that answers every message with HTTP 500."""
    good = local_app(lambda environ, body: (200, {"reply": "pronto: https://pay.example.com/pix/ABC123"}))
    broken = local_app(lambda environ, body: (500, {"error": "down"}))
    return f"{good.url}/chat", f"{broken.url}/chat"


@pytest.mark.e2e
def test_a_regressed_run_fails_its_junit_summary_and_compare_against_mains_export(tmp_path, agents):
    good, broken = agents
    main, pr = tmp_path / "main", tmp_path / "pr"
    common = ["-n", "2", "--personas", "edman", "--seed", "5"]
    ran = cli(
        "run", "--url", good, *common, "--runs-dir", str(main / "runs"), "--junit-xml", str(main / "j.xml")
    )
    assert ran.returncode == 0, ran.stderr
    passed = statuses(main / "j.xml")
    assert len(passed) == 2 and all(line.endswith(": passed") for line in passed), passed
    exported = cli("runs", "export", "latest", "--runs-dir", str(main / "runs"), "-o", str(main / "run.json"))
    assert exported.returncode == 0, exported.stderr
    document = json.loads((main / "run.json").read_text())
    assert document["format"] == "convoload-run" and document["version"] == 1
    assert document["run"]["success_rate"] == 1.0 and document["capacity"] is None

    step = tmp_path / "step_summary.md"
    step.write_text("earlier step\n")
    failed = cli(
        "run",
        "--url",
        broken,
        *common,
        "--runs-dir",
        str(pr / "runs"),
        "--grade-floor",
        "C",
        "--junit-xml",
        str(pr / "junit.xml"),
        "--summary-md",
        str(pr / "summary.md"),
        "--baseline",
        str(main / "run.json"),
        GITHUB_STEP_SUMMARY=str(step),
    )
    assert failed.returncode == 1 and "grade D is below the floor C" in failed.stderr
    junit_schema().validate(str(pr / "junit.xml"))
    lines = statuses(pr / "junit.xml")
    assert [line.split(": ")[1] for line in lines] == ["error", "error", "failure"]
    assert lines[-1] == "grade floor: failure"
    error = ET.parse(pr / "junit.xml").find(".//error")
    assert error is not None and error.get("type") == "http_status" and "500" in error.text
    summary = (pr / "summary.md").read_text()
    assert "grade **D**" in summary and "| goal rate | 0.00% (0 of 2) |" in summary
    assert f"### Compared with baseline `{document['run']['run_id']}`" in summary
    assert "| success rate | 100.00% | 0.00% | -100.00 pts | ❌ regression |" in summary
    assert summary.count("<details>") == 2 and "error http_status 500" in summary
    assert step.read_text() == "earlier step\n" + summary + "\n"  # appended, the earlier step's kept

    # CI's gate: the pull request's run against main's artifact, or main's whole store.
    against_file = cli("runs", "compare", str(main / "run.json"), "latest", "--runs-dir", str(pr / "runs"))
    assert against_file.returncode == 1 and "REGRESSION" in against_file.stdout
    assert "regression(s)" in against_file.stdout
    against_store = cli(
        "runs",
        "compare",
        "latest",
        "latest",
        "--baseline-store",
        str(main / "runs"),
        "--runs-dir",
        str(pr / "runs"),
    )
    assert against_store.returncode == 1 and against_store.stdout == against_file.stdout
    same = cli("runs", "compare", str(main / "run.json"), "latest", "--runs-dir", str(main / "runs"))
    assert same.returncode == 0 and "REGRESSION" not in same.stdout


@pytest.mark.e2e
def test_bad_ci_inputs_are_one_line_errors_before_anything_runs(tmp_path, local_app):
    app = local_app(lambda environ, body: (200, {"reply": "ok"}))
    url = f"{app.url}/chat"
    newer = write(tmp_path / "newer.json", json.dumps({"format": "convoload-run", "version": 99, "run": {}}))
    stranger = write(tmp_path / "other.json", json.dumps({"tests": 3}))
    broken = write(tmp_path / "broken.json", json.dumps({"format": "convoload-run", "version": 1, "run": {}}))
    cases = [
        (
            ["run", "--url", url, "--baseline", str(newer)],
            f"error: {newer}: version: 99 is newer than this convoload reads (1): upgrade convoload",
        ),
        (
            ["run", "--url", url, "--baseline", str(stranger)],
            f"error: {stranger}: format: not an exported convoload run (expected 'convoload-run')",
        ),
        (["run", "--url", url, "--baseline", str(broken)], f"error: {broken}: run.run_id: Field required"),
        (
            ["run", "--url", url, "--baseline", str(tmp_path / "missing.json")],
            f"error: {tmp_path / 'missing.json'}: no such file",
        ),
        (
            ["run", "--url", url, "--junit-xml", str(tmp_path)],
            f"error: --junit-xml: {tmp_path} is a folder: give a file path",
        ),
        (
            ["stress", "--url", url, "--summary-md", str(tmp_path)],
            f"error: --summary-md: {tmp_path} is a folder: give a file path",
        ),
        (
            ["run", "--url", url, "--baseline-store", str(tmp_path)],
            "error: --baseline-store: names where --baseline is: give --baseline too",
        ),
        (
            ["runs", "compare", str(newer), "latest", "--runs-dir", str(tmp_path)],
            f"error: {newer}: version: 99 is newer than this convoload reads (1): upgrade convoload",
        ),
    ]
    cases.append(
        (
            ["pipeline", "--baseline", str(tmp_path / "nothing")],
            f"error: --baseline: {tmp_path / 'nothing'}: "
            "not a pipeline folder nor its real_test_results.json",
        )
    )
    for args, line in cases:
        result = (
            cli(*args, "--runs-dir", str(tmp_path / "runs")) if args[0] in ("run", "stress") else cli(*args)
        )
        assert (result.returncode, result.stderr.strip()) == (2, line), args
    assert app.requests == [], "no run started"


@pytest.mark.e2e
def test_capacity_writes_a_case_per_step_and_its_summary(tmp_path):
    config = write(
        tmp_path / "c.yaml",
        f"""
run: {{seed: 3, runs_dir: {tmp_path / "runs"}, max_iterations: 3}}
target: {{type: python, function: "tests.capacity.agents:quick_agent"}}
capacity:
  steps: [1, 2]
  step_duration_s: 1.0
  warm_up_s: 0.5
  slos: ["goal_rate>=0.5", "p95_turn_s<=0.001"]
""",
    )
    ran = cli(
        "capacity",
        "-f",
        str(config),
        "--drain",
        "3",
        "--min-users",
        "1",
        "--junit-xml",
        str(tmp_path / "junit.xml"),
        "--summary-md",
        str(tmp_path / "summary.md"),
    )
    assert ran.returncode == 1 and "capacity 0 users is below --min-users 1" in ran.stderr
    junit_schema().validate(str(tmp_path / "junit.xml"))
    assert statuses(tmp_path / "junit.xml") == [
        "step 1: 1 user: failure",
        "step 2: 2 users: skipped",
        "min users: failure",
    ]
    failure = ET.parse(tmp_path / "junit.xml").find(".//failure")
    message = failure.get("message", "") if failure is not None else ""
    assert message.startswith("1 user broke ") and "p95_turn_s<=0.001 (measured 0.0" in message
    summary = (tmp_path / "summary.md").read_text()
    assert "**capacity: none — broke at 1 user: " in summary and "p95_turn_s<=0.001 (measured" in summary
    step_row = next(line for line in summary.splitlines() if line.startswith("| 1 | "))
    assert "❌ broke " in step_row and "p95_turn_s<=0.001" in step_row
    assert "### The whole run — grade" in summary

    # A capacity run's export holds its verdict: the next search is compared knee to knee.
    exported = cli(
        "runs", "export", "latest", "--runs-dir", str(tmp_path / "runs"), "-o", str(tmp_path / "cap.json")
    )
    assert exported.returncode == 0, exported.stderr
    assert json.loads((tmp_path / "cap.json").read_text())["capacity"]["verdict"]["broke_users"] == 1
    again = cli(
        "capacity",
        "-f",
        str(config),
        "--drain",
        "3",
        "--summary-md",
        str(tmp_path / "again.md"),
        "--baseline",
        str(tmp_path / "cap.json"),
    )
    assert again.returncode == 0, again.stderr
    assert "capacity knee unchanged at none" in (tmp_path / "again.md").read_text()
    compared = cli(
        "runs", "compare", str(tmp_path / "cap.json"), "latest", "--runs-dir", str(tmp_path / "runs")
    )
    assert "capacity knee unchanged at none" in compared.stdout


@pytest.mark.e2e
@pytest.mark.slow
def test_pipeline_writes_a_suite_per_scenario_and_keeps_json_stdout_clean(tmp_path):
    scenarios = write(
        tmp_path / "s.yaml",
        "- {name: one_booking, conversations: 1, personas: [renata]}\n"
        "- {name: bad_input, conversations: 1, success: graceful, scripts: [['']]}\n",
    )
    step = tmp_path / "step.md"
    # An earlier pipeline that did worse: graded D, half its conversations failed.
    earlier = PipelineResults(
        pipeline_id="pipeline-main",
        scenarios=[
            ScenarioResult(name=name, success_rate=0.5, health="critical", grade="D")
            for name in ("one_booking", "bad_input")
        ],
        overall=PipelineOverall(health="critical", grade="D"),
    )
    write(tmp_path / "main" / RESULTS_FILE, json.dumps(earlier.to_document()))
    result = cli(
        "pipeline",
        "--baseline",
        str(tmp_path / "main"),
        "--scenarios",
        str(scenarios),
        "--listings",
        "1000",
        "--runs-dir",
        str(tmp_path / "runs"),
        "--grade-floor",
        "A",
        "--json",
        "--junit-xml",
        str(tmp_path / "junit.xml"),
        GITHUB_STEP_SUMMARY=str(step),
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)  # nothing but the results on stdout
    junit_schema().validate(str(tmp_path / "junit.xml"))
    root = ET.parse(tmp_path / "junit.xml").getroot()
    assert [s.get("name") for s in root.findall("testsuite")] == ["one_booking", "bad_input"]
    assert root.get("failures") == "0" and root.get("errors") == "0"
    # The bad input was refused, and that is the graceful scenario's success.
    bad = root.find("testsuite[@name='bad_input']")
    assert bad is not None
    first = bad.find("testcase")
    assert first is not None and first.get("classname", "").startswith("bad_input.")
    assert bad.find("testcase[@name='grade']") is not None
    summary = step.read_text()
    assert f"## convoload pipeline `{document['pipeline_id']}`" in summary
    assert "| one_booking | " in summary and "| bad_input | " in summary
    assert "### Compared with baseline `pipeline-main`" in summary
    assert (
        "| one_booking | grade | D | A" in summary
        and "| one_booking | success rate | 50.00% | 100.00% |" in summary
    )


@pytest.mark.e2e
def test_stress_writes_a_case_per_conversation_and_compares_with_the_previous_run(tmp_path, agents):
    good, _ = agents
    common = ["--url", good, "--personas", "edman", "--users", "2", "--duration", "1", "--drain", "5"]
    first = cli("stress", *common, "--runs-dir", str(tmp_path / "runs"))
    assert first.returncode == 0, first.stderr
    (first_id,) = [p.name for p in run_dirs(tmp_path / "runs")]
    ran = cli(
        "stress",
        *common,
        "--runs-dir",
        str(tmp_path / "runs"),
        "--grade-floor",
        "B",
        "--junit-xml",
        str(tmp_path / "junit.xml"),
        "--summary-md",
        str(tmp_path / "summary.md"),
        "--baseline",
        "latest",  # the store's newest run when this one starts: the first
    )
    assert ran.returncode == 0, ran.stderr
    junit_schema().validate(str(tmp_path / "junit.xml"))
    lines = statuses(tmp_path / "junit.xml")
    assert len(lines) >= 3 and lines[-1] == "grade floor: passed"
    assert all(line.endswith(": passed") for line in lines), lines
    summary = (tmp_path / "summary.md").read_text()
    assert summary.startswith("## convoload stress `") and "grade **A+**" in summary
    # Latencies of two runs on a busy machine differ by chance: the section is what is checked here.
    assert f"### Compared with baseline `{first_id}`" in summary
    assert "| success rate | 100.00% | 100.00% | +0.00 pts | ok |" in summary
