"""LLM users from the command line and under the locust command."""

import json
import os
import subprocess
import sys

import pytest

from tests.helpers import LOCUSTFILE, invoke, run_dirs, write

# Offline: without these keys the default chain is the bundled local provider.
NO_KEYS = dict.fromkeys(("GEMINI_API_KEY", "GOOGLE_API_KEY", "OPENROUTER_API_KEY"))


def convoload(*args, env_extra=None, cwd=None):
    """`convoload ARGS` in this process, through its real main()."""
    return invoke(*args, cwd=cwd, env={**NO_KEYS, "COLUMNS": "200", **(env_extra or {})})


def run(*args, env_extra=None, cwd=None, timeout=180):
    """`python ARGS` as a process (the locust command)."""
    env = {k: v for k, v in os.environ.items() if k not in NO_KEYS}
    env.update({"COLUMNS": "200", "PYTHONUNBUFFERED": "1", **(env_extra or {})})
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout
    )


@pytest.mark.e2e
@pytest.mark.slow
def test_demo_with_llm_users_offline_then_replay(tmp_path):
    common = [
        "demo",
        "-q",
        "--user-mode",
        "llm",
        "--reply-delay",
        "0.01",
        "--seed",
        "2",
        "--runs-dir",
        str(tmp_path / "runs"),
    ]
    first = convoload(*common, cwd=tmp_path)
    assert first.returncode == 0, first.stderr + first.stdout
    second = convoload(*common, "--replay", cwd=tmp_path)
    assert second.returncode == 0, second.stderr + second.stdout
    documents = sorted(
        (json.loads((d / "aggregate.json").read_text()) for d in run_dirs(tmp_path / "runs")),
        key=lambda d: d["run"]["started_at"] + d["run"]["run_id"],
    )
    recorded = next(d for d in documents if not d["run"]["replay"])["summary"]
    replayed = next(d for d in documents if d["run"]["replay"])["summary"]
    assert recorded["llm"]["calls"] > 0 and recorded["tokens"]["total"] > 0
    assert replayed["llm"]["replayed_pct"] == 100.0 and replayed["llm"]["calls"] == 0
    assert replayed["llm"]["saved_tokens"] == recorded["tokens"]["total"]
    assert "LLM calls" in second.stdout and "replayed (100.0%)" in second.stdout
    assert (tmp_path / ".convoload" / "llm-cache.sqlite").is_file()


def test_llm_check_reports_keys_and_reachability_without_printing_keys(tmp_path, local_app):
    secret = "sk-or-v1-supersecretvalue"

    def models(environ, body):  # answers only when the key arrives intact
        if environ.get("HTTP_AUTHORIZATION") == f"Bearer {secret}":
            return 200, {"object": "list", "data": []}
        return 401, {"error": {"message": "bad key"}}

    app = local_app(models)
    config = write(
        tmp_path / "c.yaml",
        f"""
user: {{type: llm}}
llm:
  providers:
    - {{name: router, model: some/model, base_url: "{app.url}", api_key_env: CONVOLOAD_ROUTER_KEY}}
    - {{name: backup, model: other, base_url: "{app.url}", api_key_env: CONVOLOAD_MISSING_KEY}}
""",
    )
    result = convoload(
        "llm",
        "check",
        "-f",
        str(config),
        env_extra={"CONVOLOAD_ROUTER_KEY": secret, "COLUMNS": "300"},
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    router = next(line for line in lines if "router" in line)
    backup = next(line for line in lines if "backup" in line)
    assert "CONVOLOAD_ROUTER_KEY set" in router and "ok" in router
    assert "CONVOLOAD_MISSING_KEY missing" in backup and "no key" in backup
    assert secret not in result.stdout + result.stderr
    assert app.requests and app.requests[0][0] == "/models"
    bad = convoload("run", "--llm", "gemini", cwd=tmp_path)
    assert bad.returncode == 2 and "is not PROVIDER/MODEL" in bad.stderr


@pytest.mark.e2e
@pytest.mark.slow
def test_locust_with_llm_users_reports_llm_requests(tmp_path):
    config = write(tmp_path / "c.yaml", "target: {type: demo, demo: {reply_delay_s: 0.01, jitter_s: 0.0}}\n")
    result = run(
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "-u",
        "2",
        "-r",
        "2",
        "-t",
        "2s",
        "--convoload-config",
        str(config),
        "--user-mode",
        "llm",
        "--runs-dir",
        str(tmp_path / "runs"),
        "--json-file",
        str(tmp_path / "stats"),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    entries = json.loads((tmp_path / "stats.json").read_text())
    methods = {e["method"] for e in entries}
    assert {"LLM", "MESSAGE", "WEBHOOK", "CONVERSATION"} <= methods
    llm = [e for e in entries if e["method"] == "LLM"]
    assert llm[0]["name"] == "local/persona" and llm[0]["num_failures"] == 0
