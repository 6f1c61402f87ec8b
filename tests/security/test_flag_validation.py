"""Command-line flags obey the rules of the config fields they set, exactly as the YAML file does.

Before: flags went in with model_copy(update=...), unvalidated. `--user-mode bogus` ran with a traceback
per conversation and exited 0, `--user-mode fixed` without scripts ran conversations of 0 turns, and
`--max-iterations 100000` was taken although the same value in the file is refused.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from convoload.config import Config, Override, apply_overrides, load_config
from convoload.errors import ConfigError
from tests.helpers import LOCUSTFILE, error_line, invoke, write

# Each command with flags that would start something if they were taken: a refusal must come first.
BOUNDED = {
    "run": ["-n", "1"],
    "converse": [],
    "demo": ["--agent", "tickets", "-q"],
    "stress": ["--agent", "tickets", "-u", "1", "-t", "1", "--drain", "0"],
}


@pytest.mark.parametrize(
    ("command", "flags", "flag", "words"),
    [
        (
            "run",
            ["--user-mode", "bogus"],
            "--user-mode",
            ["'scripted', 'llm', 'mixed' or 'fixed'", "'bogus'"],
        ),
        ("converse", ["--user-mode", "bogus"], "--user-mode", ["'bogus'"]),
        ("demo", ["--user-mode", "bogus"], "--user-mode", ["'bogus'"]),
        ("stress", ["--user-mode", "bogus"], "--user-mode", ["'bogus'"]),
        ("run", ["--user-mode", "fixed"], "--user-mode", ["a fixed user needs scripts"]),
        ("converse", ["--user-mode", "fixed"], "--user-mode", ["a fixed user needs scripts"]),
        ("demo", ["--user-mode", "fixed"], "--user-mode", ["a fixed user needs scripts"]),
        ("stress", ["--user-mode", "fixed"], "--user-mode", ["a fixed user needs scripts"]),
        ("run", ["--max-iterations", "100000"], "--max-iterations", ["less than or equal to 500"]),
        ("converse", ["--max-iterations", "501"], "--max-iterations", ["less than or equal to 500"]),
        ("run", ["--max-iterations", "0"], "--max-iterations", ["greater than or equal to 1"]),
        ("run", ["--conversations", "0"], "--conversations", ["greater than or equal to 1"]),
        ("demo", ["-n", "0"], "--conversations", ["greater than or equal to 1"]),
        ("run", ["-c", "0"], "--concurrency", ["greater than or equal to 1"]),
        ("demo", ["-c", "-3"], "--concurrency", ["greater than or equal to 1"]),
        ("run", ["--ramp-up", "-1"], "--ramp-up", ["greater than or equal to 0"]),
        ("demo", ["--listings", "99"], "--listings", ["greater than or equal to 100"]),
        ("stress", ["--listings", "5"], "--listings", ["greater than or equal to 100"]),
        ("demo", ["--reply-delay", "-0.5"], "--reply-delay", ["greater than or equal to 0"]),
        ("run", ["--type", "webhook"], "--type", ["a webhook target needs 'url'"]),
        ("run", ["--url", "ftp://agent.example/chat"], "--url", ["must start with http:// or https://"]),
        ("converse", ["--url", "http://127.0.0.1:9/{nope}"], "--url", ["unknown placeholder {nope}"]),
    ],
)
def test_a_bad_flag_is_one_line_naming_it(tmp_path, command, flags, flag, words):
    runs = tmp_path / "runs"
    args = [command, *BOUNDED[command], *flags, "--runs-dir", str(runs)]
    line = error_line(invoke(*args))
    assert line.startswith(f"{flag}: "), line
    for word in words:
        assert word in line, line
    assert not runs.exists()  # refused before anything ran


@pytest.mark.parametrize(
    ("yaml_text", "flags", "field"),
    [
        ("user: {type: fixed}\n", ["--user-mode", "fixed"], "user"),
        ("run: {max_iterations: 100000}\n", ["--max-iterations", "100000"], "run.max_iterations"),
        ("run: {concurrency: 0}\n", ["-c", "0"], "run.concurrency"),
        ("user: {type: bogus}\n", ["--user-mode", "bogus"], "user.type"),
    ],
)
def test_a_flag_is_refused_with_the_files_own_words(tmp_path, yaml_text, flags, field):
    config = write(tmp_path / "cfg.yaml", yaml_text)
    from_file = error_line(invoke("run", "-f", str(config)))
    assert from_file.startswith(f"{config}: {field}: "), from_file
    from_flag = error_line(invoke("run", *flags, "--runs-dir", str(tmp_path)))
    # The same rule said the same thing; only where it happened differs.
    assert from_flag.split(": ", 1)[1].startswith(from_file.split(": ", 2)[2]), (from_file, from_flag)


@pytest.mark.e2e
def test_user_mode_fixed_runs_the_configs_scripts(tmp_path, local_app):
    """Refusing bad flags must not refuse good ones: --user-mode fixed with scripts plays them."""
    texts: list[str] = []

    def reply(environ, body):
        texts.append(json.loads(body)["text"])
        return 200, {"reply": "ok"}

    app = local_app(reply)
    config = write(
        tmp_path / "cfg.yaml",
        f"user: {{type: scripted, scripts: [[hello, bye]]}}\ntarget: {{type: http, url: '{app.url}/chat'}}\n",
    )
    result = invoke(
        "run", "-f", str(config), "--user-mode", "fixed", "-n", "2", "-c", "1",
        "--max-iterations", "500", "--runs-dir", str(tmp_path / "runs"),
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stderr[-3000:]  # no goal in "ok": exit 1 is a verdict
    assert texts == ["hello", "bye", "hello", "bye"]


def test_overrides_keep_the_config_and_accept_the_limits(tmp_path):
    config = load_config(write(tmp_path / "c.yaml", "run: {seed: 4}\nuser: {scripts: [[a]]}\n"))
    changed = apply_overrides(
        config,
        [
            Override("--max-iterations", "run.max_iterations", 500),
            Override("--user-mode", "user.type", "fixed"),
            Override("--seed", "run.seed", None),  # not given
        ],
    )
    assert (changed.run.max_iterations, changed.user.type, changed.run.seed) == (500, "fixed", 4)
    assert (changed.source, changed.base_dir) == (config.source, config.base_dir)
    assert config.run.max_iterations == 15 and config.user.type == "scripted"  # the original is untouched
    with pytest.raises(ConfigError) as refused:
        apply_overrides(Config(), [Override("--personas", "personas", [])])
    assert refused.value.source == "--personas"


def test_run_workers_refuses_bad_flags_before_starting_locust(tmp_path):
    config = write(tmp_path / "cfg.yaml", "target: {type: demo, demo: {agent: tickets}}\n")
    for flags, flag in [
        (["--max-iterations", "100000"], "--max-iterations"),
        (["--user-mode", "bogus"], "--user-mode"),
        (["-n", "0"], "--conversations"),
    ]:
        result = invoke(
            "run", "-f", str(config), "--workers", "2", *flags, "--runs-dir", str(tmp_path / "runs"),
            cwd=tmp_path,
        )  # fmt: skip
        assert error_line(result).startswith(f"{flag}: ")
        assert not (tmp_path / "runs").exists()


def _locust(tmp_path, config, *args):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [
            sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--only-summary",
            "--convoload-config", str(config), "--runs-dir", str(tmp_path / "runs"), "-u", "1", "-t", "2s",
            *args,
        ],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env,
    )  # fmt: skip


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (
            ["--user-mode", "bogus"],
            "error: --user-mode: Input should be 'scripted', 'llm', 'mixed' or 'fixed'",
        ),
        (["--user-mode", "fixed"], "error: --user-mode: a fixed user needs scripts"),
        (
            ["--max-iterations", "100000"],
            "error: --max-iterations: Input should be less than or equal to 500",
        ),
        (["--conversations", "0"], "error: --conversations: Input should be greater than or equal to 1"),
    ],
)
def test_locust_plugin_options_are_validated_like_the_file(tmp_path, flags, expected):
    config = write(tmp_path / "c.yaml", "target: {type: demo, demo: {reply_delay_s: 0.01, jitter_s: 0}}\n")
    result = _locust(tmp_path, config, *flags)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith(expected), result.stderr[-3000:]
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "args, words",
    [
        (["run", "--workers", "0"], "--workers"),
        (["run", "--fail-under", "300"], "--fail-under"),
        (["run", "--bogus-flag"], "--bogus-flag"),
        (["run", "--conversations", "many"], "--conversations"),
        (["report"], "run_dir"),
    ],
)
def test_flags_the_config_does_not_know_are_one_line_too(args, words):
    """Errors of the command line itself (range, type, unknown flag) read like a config field's."""
    line = error_line(invoke(*args))
    assert line.startswith(f"convoload {args[0]}: ") and words in line, line


def test_no_command_still_shows_the_help():
    shown = invoke()
    assert "Usage: convoload" in shown.stdout + shown.stderr
    assert "Traceback" not in shown.stderr
