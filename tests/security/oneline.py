"""Run the real `convoload` entry point (cli.main) and read its one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def run_main(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str]:
    """`convoload ARGS` in this process, through main() as the console script runs it: (exit code, stderr)."""
    from convoload.cli import main

    monkeypatch.setattr(sys, "argv", ["convoload", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    code = exited.value.code
    return (code if isinstance(code, int) else 1), capsys.readouterr().err


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120):
    """`python -m convoload ARGS` as a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "convoload", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "160", **(env or {})},
    )


def error_line(code: int, stderr: str) -> str:
    """The one line of a refused input (exit code 2, no traceback), without its `error: ` prefix."""
    assert code == 2, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr[-3000:]
    assert lines[0].startswith("error: "), lines[0]
    return lines[0].removeprefix("error: ")
