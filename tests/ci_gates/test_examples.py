"""examples/ci/: the GitHub Actions workflow and the GitLab CI job are valid against the published
schemas (the copies check-jsonschema vendors: SchemaStore's github-workflow.json and GitLab's own
.gitlab-ci.yml schema), and the gate script they both run works: against a bundled agent served on
loopback as the service container would be, first as the main branch (no baseline), then as a pull
request compared with main's run.json, then as a pull request whose agent regressed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from functools import cache
from pathlib import Path
from typing import Any

import check_jsonschema
import jsonschema
import pytest
from ruamel.yaml import YAML

from convoload.config import load_config
from tests.ci_gates.runs import junit_schema
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
    # The schema is no rubber stamp: a job without a runner is refused.
    broken = {**workflow, "jobs": {"conversations": {k: v for k, v in job.items() if k != "runs-on"}}}
    assert errors("github-workflows.json", broken)


def test_the_gitlab_job_is_valid_against_the_gitlab_ci_schema() -> None:
    pipeline = load_yaml((EXAMPLES / "gitlab-ci.yml").read_text(encoding="utf-8"))
    assert errors("gitlab-ci.json", pipeline) == []
    job = pipeline["convoload"]
    assert job["artifacts"]["reports"]["junit"] == "convoload-out/junit.xml"
    assert job["artifacts"]["when"] == "always"
    assert "bash examples/ci/convoload-gate.sh" in job["script"]
    broken = {"convoload": {**job, "artifacts": {**job["artifacts"], "when": "sometimes"}}}
    assert errors("gitlab-ci.json", broken)


def test_the_example_config_is_valid() -> None:
    config = load_config(EXAMPLES / "convoload.yaml")
    assert config.target.type == "http" and config.run.seed == 1


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


@pytest.mark.e2e
@pytest.mark.slow
def test_the_gate_runs_on_main_then_compares_a_pull_request_and_fails_a_regression(
    tmp_path: Path, demo_server, local_app
) -> None:
    (tmp_path / "main").mkdir()
    main = gate(tmp_path / "main", AGENT_URL=demo_server.chat_url, CONVOLOAD_OUT="out")
    assert main.returncode == 0, main.stdout + main.stderr
    out = tmp_path / "main" / "out"
    assert {p.name for p in out.iterdir()} >= {"junit.xml", "summary.md", "run.json", "runs"}
    junit_schema().validate(str(out / "junit.xml"))
    assert ET.parse(out / "junit.xml").getroot().get("tests") == "13"  # 12 conversations, the grade floor
    # Main's numbers, its latencies made ten times slower: two runs on a busy test machine differ in
    # latency by chance, and this pull request must be the one that did not regress.
    exported = json.loads((out / "run.json").read_text())
    for key in ("turn_p50_ms", "turn_p95_ms", "conversation_p95_ms"):
        exported["run"][key] *= 10
    baseline = tmp_path / "main-run.json"
    baseline.write_text(json.dumps(exported))

    (tmp_path / "pr").mkdir()
    step = tmp_path / "pr" / "step.md"
    same = gate(
        tmp_path / "pr",
        AGENT_URL=demo_server.chat_url,
        CONVOLOAD_OUT="out",
        CONVOLOAD_BASELINE=str(baseline),
        GITHUB_STEP_SUMMARY=str(step),
    )
    assert same.returncode == 0, same.stdout + same.stderr
    assert "B vs A" in same.stdout and "regression(s)" not in same.stdout
    assert "No regression against the baseline." in step.read_text()

    broken = local_app(lambda environ, body: (503, {"error": "deploy in progress"}))
    (tmp_path / "bad").mkdir()
    regressed = gate(
        tmp_path / "bad",
        AGENT_URL=f"{broken.url}/v1/chat",
        CONVOLOAD_OUT="out",
        CONVOLOAD_BASELINE=str(baseline),
    )
    assert regressed.returncode == 1, regressed.stdout + regressed.stderr
    assert "REGRESSION" in regressed.stdout and "grade D is below the floor C" in regressed.stderr
    bad = tmp_path / "bad" / "out"
    assert (bad / "run.json").is_file() and (bad / "summary.md").is_file()  # uploaded all the same
    root = ET.parse(bad / "junit.xml").getroot()
    assert root.get("errors") == "12" and root.get("failures") == "1"
    # A GitLab attachment is a path inside the job's artifacts.
    out_text = (bad / "junit.xml").read_text()
    assert "[[ATTACHMENT|out/runs/" in out_text

    nothing_yet = gate(
        tmp_path / "bad",
        AGENT_URL=demo_server.chat_url,
        CONVOLOAD_OUT="first",
        CONVOLOAD_BASELINE="no/run.json",
    )
    assert nothing_yet.returncode == 0 and "nothing to compare" in nothing_yet.stdout
