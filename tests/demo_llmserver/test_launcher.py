"""LocalLLMServer and the generic ServerProcess: startup, script file, failures, shutdown."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import httpx
import pytest

from convoload.servers import ServerProcess
from convoload_demo.llmserver import LLMServerSettings, LocalLLMServer
from convoload_demo.llmserver.__main__ import build_parser, settings_from_args

USER = {"role": "user", "content": "oi"}
posix_only = pytest.mark.skipif(
    sys.platform == "win32", reason="uses a POSIX shell script as fake interpreter"
)


@pytest.mark.e2e
def test_initial_script_latency_and_no_key() -> None:
    settings = LLMServerSettings(
        latency_s=0.3, script={"models": {"c": "canned"}, "canned": {"c": ["from file"]}}
    )
    with LocalLLMServer(settings) as llm, httpx.Client(trust_env=False, timeout=10) as http:
        assert llm.base_url == llm.url + "/v1" and llm.url.startswith("http://127.0.0.1:")
        started = time.monotonic()
        response = http.post(llm.chat_url, json={"model": "c", "messages": [USER]})  # no key needed
        assert time.monotonic() - started >= 0.3
        assert response.status_code == 200
        assert response.json()["choices"][0]["message"]["content"] == "from file"
        assert llm.requests()[0]["authorization"] is False
        assert llm.pid is not None
        health = llm.health_url
        assert http.get(health).json()["status"] == "ok"
        script_file = llm._script_path
        assert script_file is not None and os.path.exists(script_file)
    assert llm.pid is None
    assert not os.path.exists(script_file), "the temporary script file is removed on stop"
    with pytest.raises(httpx.TransportError), httpx.Client(trust_env=False) as http:
        http.get(health, timeout=2)


@pytest.mark.e2e
def test_invalid_script_file_fails_start_with_stderr(tmp_path: Path) -> None:
    script = tmp_path / "broken.json"
    script.write_text('{"models": {"c": "canned"}}', encoding="utf-8")
    server = ServerProcess("convoload_demo.llmserver", ["--port", "0", "--script", str(script)], name="llm")
    with pytest.raises(RuntimeError, match=r"exited with code 2(.|\n)*invalid script"):
        server.start()
    assert server.pid is None


@pytest.mark.e2e
def test_bad_flag_value_exits_with_code_2() -> None:
    server = ServerProcess("convoload_demo.llmserver", ["--port", "0", "--latency", "-1"], name="llm")
    with pytest.raises(RuntimeError, match="exited with code 2"):
        server.start()
    assert server.pid is None


def test_cli_flags_round_trip(tmp_path: Path) -> None:
    settings = LLMServerSettings(api_key="k", latency_s=0.5, jitter_s=0.25, seed=9)
    parsed = settings_from_args(build_parser().parse_args(settings.cli_args()))
    assert parsed == settings
    script = tmp_path / "s.json"
    script.write_text('{"canned": {"m": ["x"]}, "latency_s": 1}', encoding="utf-8")
    loaded = settings_from_args(build_parser().parse_args(settings.cli_args(str(script))))
    assert loaded.script.canned == {"m": ["x"]} and loaded.script.latency_s == 1
    script.write_text('{"canned": {"m": []}}', encoding="utf-8")
    with pytest.raises(ValueError, match="invalid script"):
        settings_from_args(build_parser().parse_args(["--script", str(script)]))


@pytest.mark.e2e
@posix_only
def test_server_process_reads_ready_and_reports_early_exit(tmp_path: Path) -> None:
    ready = tmp_path / "ready-python"
    ready.write_text("#!/bin/sh\necho booting\necho 'READY http://127.0.0.1:9/'\nexec sleep 30\n")
    ready.chmod(0o755)
    with ServerProcess("whatever", ["--flag"], python=str(ready), startup_timeout_s=10) as proc:
        assert proc.url == "http://127.0.0.1:9"
        assert proc.command() == [str(ready), "-m", "whatever", "--flag"]
        child = proc.proc
        assert child is not None and child.poll() is None
    assert child.poll() is not None, "stopped on exit"

    dying = tmp_path / "dying-python"
    dying.write_text("#!/bin/sh\necho 'no luck' >&2\nexit 3\n")
    dying.chmod(0o755)
    failing = ServerProcess("whatever", python=str(dying), name="fake server")
    with pytest.raises(RuntimeError, match=r"fake server exited with code 3(.|\n)*no luck"):
        failing.start()
    assert failing.pid is None
