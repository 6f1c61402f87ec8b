"""The processes the signal tests start, and the waits on what they show.

Every process is started with a tag in its environment, which its children (demo agents, Locust workers,
server children) inherit: at teardown every live process with the tag is killed, even ones a failing test
left behind or a parent left orphaned. Output goes to files, so a process never blocks on a full pipe
and a test can wait for a line in it. Waits poll observable state (a file, a line) with a deadline.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import psutil

from convoload.conversation.records import ConversationRecord
from tests.conftest import REPO

TAG_ENV = "CONVOLOAD_TEST_PROCESS_TAG"
LOCUSTFILE = REPO / "src" / "convoload" / "load" / "locustfile.py"
DEADLINE_S = 120.0
T = TypeVar("T")


# How a process a signal ended exits: 128 + the signal, as a shell reports it.
EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}


def wait_until(condition: Callable[[], T], what: str, timeout: float = DEADLINE_S) -> T:
    """Poll `condition` until it returns something truthy (returned); fail naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def journal_lines(path: Path) -> list[ConversationRecord]:
    """Every record of a journal; each line must be complete JSON (a torn line fails the test)."""
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    assert not text or text.endswith("\n"), f"{path}: the last line is torn"
    return [ConversationRecord.from_document(json.loads(line)) for line in text.splitlines() if line.strip()]


def first_journal(root: Path, pattern: str = "*/journal.jsonl", lines: int = 1) -> Path | None:
    """The first journal under `root` with at least `lines` complete lines, or None (for wait_until)."""
    for path in sorted(root.glob(pattern)):
        if path.is_file() and path.read_bytes().count(b"\n") >= lines:
            return path
    return None


@dataclass
class Started:
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def out(self) -> str:
        return self.stdout.read_text(encoding="utf-8", errors="replace")

    def err(self) -> str:
        return self.stderr.read_text(encoding="utf-8", errors="replace")

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float = DEADLINE_S) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"pid {self.pid} still running after {timeout:g} s\nstdout:\n{self.out()[-3000:]}\n"
                f"stderr:\n{self.err()[-3000:]}"
            ) from None

    def wait_for_output(self, text: str, *, stream: str = "stdout", timeout: float = DEADLINE_S) -> str:
        """The output so far once it contains `text` (fails early when the process exits first)."""
        read = self.out if stream == "stdout" else self.err

        def seen() -> str | None:
            output = read()
            if text in output:
                return output
            if self.process.poll() is not None and text not in read():
                raise AssertionError(
                    f"exited ({self.process.returncode}) before printing {text!r}\nstdout:\n"
                    f"{self.out()[-3000:]}\nstderr:\n{self.err()[-3000:]}"
                )
            return None

        return wait_until(seen, f"{text!r} on {stream}", timeout)


class Processes:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.tag = uuid.uuid4().hex
        self.started: list[Started] = []

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("CONVOLOAD_DB_URL", "LOCUST_STOP_TIMEOUT")}
        return {**env, "PYTHONUNBUFFERED": "1", "COLUMNS": "200", TAG_ENV: self.tag, **extra}

    def start(self, args: list[str], *, cwd: Path, **env: str) -> Started:
        k = len(self.started)
        stdout, stderr = self.folder / f"process-{k}.out", self.folder / f"process-{k}.err"
        with stdout.open("wb") as out, stderr.open("wb") as err:
            process = subprocess.Popen(args, stdout=out, stderr=err, cwd=cwd, env=self.env(**env))
        started = Started(process, stdout, stderr)
        self.started.append(started)
        return started

    def convoload(self, *args: str, cwd: Path, **env: str) -> Started:
        return self.start([sys.executable, "-m", "convoload", *args], cwd=cwd, **env)

    def locust(self, *args: str, cwd: Path, **env: str) -> Started:
        return self.start([sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), *args], cwd=cwd, **env)

    def alive(self) -> list[psutil.Process]:
        """Every live process started by this test, its descendants included (found by their tag)."""
        found = []
        for process in psutil.process_iter():
            try:
                ours = process.pid != os.getpid() and process.environ().get(TAG_ENV) == self.tag
                if ours and process.status() != psutil.STATUS_ZOMBIE:
                    found.append(process)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
        return found

    def cleanup(self) -> None:
        for process in self.alive():
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(signal.SIGKILL)
        for started in self.started:
            if started.process.poll() is None:
                started.process.kill()
            started.process.wait(timeout=30)
