"""examples/ci/: the GitHub Actions workflow and the GitLab CI job are valid against the published
schemas (the copies check-jsonschema vendors: SchemaStore's github-workflow.json and GitLab's own
.gitlab-ci.yml schema), and the gate script they both run works: against a bundled agent served on
loopback as the service container would be, first as the main branch (no baseline), then as a pull
request compared with main's run.json and pipeline.json, then as pull requests whose agent regressed:
one the run catches, one only the pipeline's scenarios and domain check catch."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path
from typing import Any

import check_jsonschema
import httpx
import jsonschema
import pytest
from ruamel.yaml import YAML

from convoload.config import load_config
from convoload.model import ConversationRecord, Outcome
from convoload.pipeline import resolve_suite
from tests.ci_gates.runs import conversation, junit_schema
from tests.helpers import REPO

EXAMPLES = REPO / "examples" / "ci"
VENDORED = Path(check_jsonschema.__file__).parent / "builtin_schemas" / "vendor"


@cache
def validator(name: str) -> Any:
    schema = json.loads((VENDORED / name).read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def load_yaml(text: str) -> Any:
    # YAML 1.2, as GitHub and GitLab read it: `on:` is a key, not the boolean true of YAML 1.1.
    return YAML(typ="safe").load(text)


def errors(schema: str, document: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator(schema).iter_errors(document)]


def test_the_github_workflow_is_valid_against_the_github_actions_schema() -> None:
    workflow = load_yaml((EXAMPLES / "github-actions.yml").read_text(encoding="utf-8"))
    assert errors("github-workflows.json", workflow) == []
    assert set(workflow["on"]) == {"pull_request", "push"}
    job = workflow["jobs"]["conversations"]
    assert "agent" in job["services"]
    steps = [step.get("run", "") for step in job["steps"]]
    assert "bash examples/ci/convoload-gate.sh" in steps
    uploads = [s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact")]
    assert uploads[0]["if"] == "always()"  # the reports are uploaded when the gate fails too
    # main keeps both baselines: the run's and the pipeline's
    assert uploads[1]["with"]["path"].split() == ["convoload-out/run.json", "convoload-out/pipeline.json"]
    [report] = [s for s in job["steps"] if s.get("uses", "").startswith("mikepenz/action-junit-report")]
    assert report["if"] == "always()" and report["with"]["report_paths"] == "convoload-out/*junit.xml"
    assert job["env"]["CONVOLOAD_SUITE"] == "suite:SUITE"
    # The schema is no rubber stamp: a job without a runner is refused.
    broken = {**workflow, "jobs": {"conversations": {k: v for k, v in job.items() if k != "runs-on"}}}
    assert errors("github-workflows.json", broken)


def test_the_gitlab_job_is_valid_against_the_gitlab_ci_schema() -> None:
    pipeline = load_yaml((EXAMPLES / "gitlab-ci.yml").read_text(encoding="utf-8"))
    assert errors("gitlab-ci.json", pipeline) == []
    job = pipeline["convoload"]
    assert job["artifacts"]["reports"]["junit"] == [
        "convoload-out/junit.xml",
        "convoload-out/pipeline-junit.xml",
    ]
    assert job["variables"]["CONVOLOAD_SUITE"] == "suite:SUITE"
    assert job["artifacts"]["when"] == "always"
    assert "bash examples/ci/convoload-gate.sh" in job["script"]
    broken = {"convoload": {**job, "artifacts": {**job["artifacts"], "when": "sometimes"}}}
    assert errors("gitlab-ci.json", broken)


def test_the_example_config_is_valid() -> None:
    config = load_config(EXAMPLES / "convoload.yaml")
    assert config.target.type == "http" and config.run.seed == 1


def replies(user_id: int, *texts: str | None) -> ConversationRecord:
    """A conversation whose agent replied these texts, turn by turn (None: the turn failed)."""
    record = conversation(user_id, Outcome.USER_STOPPED, turns=len(texts))
    turns = [
        dataclasses.replace(turn, reply_text=text) for turn, text in zip(record.turns, texts, strict=True)
    ]
    return record.model_copy(update={"turns": turns})


def test_the_example_suite_talks_to_the_configs_agent_at_agent_url(monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.setenv("AGENT_URL", "http://agent:9000/v1/chat")
    monkeypatch.delenv("CONVOLOAD_CONFIG", raising=False)
    monkeypatch.delitem(sys.modules, "suite", raising=False)
    suite = resolve_suite("suite:SUITE")
    monkeypatch.delitem(sys.modules, "suite")  # read again by the next test that imports it
    config = load_config(EXAMPLES / "convoload.yaml")
    assert dict(suite.target or {}) == {
        **config.target.model_dump(mode="json", exclude_unset=True),
        "url": "http://agent:9000/v1/chat",
    }
    assert list(suite.personas) == config.personas and suite.goal == config.goal
    # The domain check: empty replies and leaked stack traces are mismatches; a failed turn (no reply)
    # is the error rate's to count, not the check's.
    [check] = suite.checks
    records = [
        replies(1, "Olá! Qual show?", "Seu link: https://pay.example.com/pix/abc"),
        replies(2, "  ", None),
        replies(3, 'Traceback (most recent call last):\n  File "app.py", line 3, in chat'),
        replies(4, "Erro\n\tat com.acme.chat.Reply(Reply.java:42)"),
    ]
    result = check.run(records, None)  # type: ignore[arg-type]  # the check never reads the system
    assert result.checked == 5
    found = [(m.session_id, m.iteration, m.problem) for m in result.mismatches]  # type: ignore[attr-defined]
    assert found == [
        ("s002", 1, "empty reply"),
        ("s003", 1, "leaked an error"),
        ("s004", 1, "leaked an error"),
    ]
    assert result.score == 0.4


def gate(cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The gate script as the CI job runs it, with the `convoload` of this environment on PATH."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    environment = {**os.environ, "PATH": path, "CONVOLOAD_CONFIG": str(EXAMPLES / "convoload.yaml")}
    for name in ("CONVOLOAD_DB_URL", "GITHUB_STEP_SUMMARY"):
        environment.pop(name, None)
    environment.update(env)
    return subprocess.run(
        ["bash", str(EXAMPLES / "convoload-gate.sh")],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def slower(document: dict[str, Any], keys: tuple[str, ...]) -> None:
    for key in keys:
        document[key] *= 10


def leaky_agent(local_app, chat_url: str) -> Any:
    """The agent of a pull request that broke its error handling: it answers as the bundled agent does,
    except that a message with a template in it gets the stack trace of the crash as its reply."""

    def handler(environ: dict, body: bytes) -> tuple[int, dict]:
        if "{{" in json.loads(body)["text"]:
            trace = (
                'Traceback (most recent call last):\n  File "agent/chat.py", line 88, in reply\nKeyError: 7'
            )
            return 200, {"reply": trace, "agent": "vendas"}
        forwarded = httpx.post(
            chat_url, content=body, headers={"Content-Type": "application/json"}, timeout=10
        )
        return forwarded.status_code, forwarded.json()

    return local_app(handler)


@pytest.mark.e2e
@pytest.mark.slow
def test_the_gate_runs_on_main_then_compares_a_pull_request_and_fails_a_regression(
    tmp_path: Path, demo_server, local_app
) -> None:
    (tmp_path / "main").mkdir()
    main = gate(tmp_path / "main", AGENT_URL=demo_server.chat_url, CONVOLOAD_OUT="out")
    assert main.returncode == 0, main.stdout + main.stderr
    out = tmp_path / "main" / "out"
    assert {p.name for p in out.iterdir()} >= {
        "junit.xml",
        "summary.md",
        "run.json",
        "runs",
        "pipeline-junit.xml",
        "pipeline-summary.md",
        "pipeline.json",
        "pipeline-runs",
    }
    junit_schema().validate(str(out / "junit.xml"))
    assert ET.parse(out / "junit.xml").getroot().get("tests") == "13"  # 12 conversations, the grade floor
    # The pipeline: the example suite's two scenarios against the same agent, every case passed.
    junit_schema().validate(str(out / "pipeline-junit.xml"))
    piped = ET.parse(out / "pipeline-junit.xml").getroot()
    assert [suite.get("name") for suite in piped.iter("testsuite")][:2] == ["purchase", "rough_input"]
    assert (piped.get("failures"), piped.get("errors")) == ("0", "0")
    assert "convoload pipeline" in (out / "pipeline-summary.md").read_text()
    # Main's numbers, its latencies made ten times slower: two runs on a busy test machine differ in
    # latency by chance, and this pull request must be the one that did not regress.
    exported = json.loads((out / "run.json").read_text())
    slower(exported["run"], ("turn_p50_ms", "turn_p95_ms", "conversation_p95_ms"))
    baseline = tmp_path / "main-run.json"
    baseline.write_text(json.dumps(exported))
    results = json.loads((out / "pipeline.json").read_text())
    assert [s["grade"] for s in results["scenarios"]] == ["A+", "A+"]
    for scenario in results["scenarios"]:
        slower(scenario["latency_ms"], ("p50", "p95"))
    pipeline_baseline = tmp_path / "main-pipeline.json"
    pipeline_baseline.write_text(json.dumps(results))
    baselines = {"CONVOLOAD_BASELINE": str(baseline), "CONVOLOAD_PIPELINE_BASELINE": str(pipeline_baseline)}

    (tmp_path / "pr").mkdir()
    step = tmp_path / "pr" / "step.md"
    same = gate(
        tmp_path / "pr",
        AGENT_URL=demo_server.chat_url,
        CONVOLOAD_OUT="out",
        GITHUB_STEP_SUMMARY=str(step),
        **baselines,
    )
    assert same.returncode == 0, same.stdout + same.stderr
    assert "B vs A" in same.stdout and "regression(s)" not in same.stdout + same.stderr
    assert f"no regression against the baseline {results['pipeline_id']}" in same.stdout
    # The job summary: the run's comparison, then the pipeline's, both clean.
    assert step.read_text().count("No regression against the baseline.") == 2
    assert (tmp_path / "pr" / "out" / "pipeline.json").is_file()

    broken = local_app(lambda environ, body: (503, {"error": "deploy in progress"}))
    (tmp_path / "bad").mkdir()
    regressed = gate(tmp_path / "bad", AGENT_URL=f"{broken.url}/v1/chat", CONVOLOAD_OUT="out", **baselines)
    assert regressed.returncode == 1, regressed.stdout + regressed.stderr
    assert "REGRESSION" in regressed.stdout and "grade D is below the floor C" in regressed.stderr
    assert "REGRESSION purchase: grade A+ -> D" in regressed.stderr  # the pipeline's too
    assert "overall grade D is below the floor C" in regressed.stderr
    bad = tmp_path / "bad" / "out"
    for name in ("run.json", "summary.md", "pipeline.json", "pipeline-summary.md"):
        assert (bad / name).is_file(), name  # uploaded all the same
    root = ET.parse(bad / "junit.xml").getroot()
    assert root.get("errors") == "12" and root.get("failures") == "1"
    # A GitLab attachment is a path inside the job's artifacts.
    out_text = (bad / "junit.xml").read_text()
    assert "[[ATTACHMENT|out/runs/" in out_text

    # A regression only the pipeline sees: the customers' journeys still work (every conversation of
    # the run reaches its goal), but rough input now gets a stack trace, which the suite's domain check
    # catches. (The run's latencies through this proxy are not main's: the run's comparison is not
    # asserted here.)
    leaky = leaky_agent(local_app, demo_server.chat_url)
    (tmp_path / "leaky").mkdir()
    leaked = gate(tmp_path / "leaky", AGENT_URL=f"{leaky.url}/v1/chat", CONVOLOAD_OUT="out", **baselines)
    assert leaked.returncode == 1, leaked.stdout + leaked.stderr
    run = ET.parse(tmp_path / "leaky" / "out" / "junit.xml").getroot()
    assert (run.get("failures"), run.get("errors")) == ("0", "0")
    lines = re.findall(r"^REGRESSION .*$", leaked.stderr, re.MULTILINE)
    assert lines[:2] == [
        "REGRESSION rough_input: grade A+ -> D",
        "REGRESSION rough_input: success rate 100.00% -> 66.67% (-33.33 pts)",
    ], leaked.stderr
    assert all(line.startswith("REGRESSION rough_input:") for line in lines)
    assert "below the floor" not in leaked.stderr  # both grades above C: the comparison fails it
    summary = (tmp_path / "leaky" / "out" / "pipeline-summary.md").read_text()
    assert "regression(s)** against the baseline." in summary
    cases = ET.parse(tmp_path / "leaky" / "out" / "pipeline-junit.xml").getroot()
    assert int(cases.get("failures") or 0) + int(cases.get("errors") or 0) >= 1

    nothing_yet = gate(
        tmp_path / "bad",
        AGENT_URL=demo_server.chat_url,
        CONVOLOAD_OUT="first",
        CONVOLOAD_BASELINE="no/run.json",
        CONVOLOAD_PIPELINE_BASELINE="no/pipeline.json",
    )
    assert nothing_yet.returncode == 0, nothing_yet.stdout + nothing_yet.stderr
    assert "no run baseline at no/run.json" in nothing_yet.stderr
    assert "no pipeline baseline at no/pipeline.json" in nothing_yet.stderr
