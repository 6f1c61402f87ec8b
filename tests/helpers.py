"""What test modules share, in one home: files and run folders, a real HTTP app on loopback, raw socket
exchanges, free ports, the `convoload` command (in this process or as a real process) and its one-line
errors, the processes a test starts and the waits on what they show, and the probes of optional systems.

Plain code a test imports; fixtures and hooks stay in conftest.py, or in tests/fixtures/ when several
folders use them.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import psutil
import pytest
from gevent.pywsgi import WSGIServer
from typer.testing import CliRunner

if TYPE_CHECKING:
    from convoload.model import ConversationRecord

REPO = Path(__file__).resolve().parents[1]
LOCUSTFILE = REPO / "src" / "convoload" / "load" / "locustfile.py"
T = TypeVar("T")


# -- files and run folders -----------------------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def run_dirs(runs: Path) -> list[Path]:
    """The run folders under a runs directory (it also holds the results database)."""
    return sorted(p for p in runs.iterdir() if p.is_dir())


# -- loopback: an HTTP app, raw exchanges, ports ----------------------------------------------------------


class LocalApp:
    """A real HTTP server on loopback whose behaviour each test sets with a handler (fixture `local_app`)."""

    def __init__(self, handler: Callable[[dict, bytes], tuple[int, bytes | str | dict]]) -> None:
        self.handler = handler
        self.requests: list[tuple[str, bytes]] = []
        self.server = WSGIServer(("127.0.0.1", 0), self._app, log=None, error_log=None)
        self.server.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.lock = threading.Lock()

    def _app(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        self.requests.append((environ["PATH_INFO"], body))
        status, payload = self.handler(environ, body)
        if isinstance(payload, dict | list):
            payload = json.dumps(payload).encode()
        elif isinstance(payload, str):
            payload = payload.encode()
        start_response(
            f"{status} X", [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
        )
        return [payload]

    def stop(self) -> None:
        self.server.stop(timeout=1)


def exchange(port: int, data: bytes) -> bytes:
    """Send raw bytes and read every answer, until the server closes (the last request says close)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def free_port() -> int:
    """A loopback port nobody listened on a moment ago (connecting to it is refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Below Linux's ephemeral range (32768-60999), so that no outgoing connection of the test's own
# processes can take the port between this check and the bind.
_LOW_PORT, _HIGH_PORT = 20_000, 32_000


def free_consecutive_ports(count: int) -> int:
    """The first of `count` consecutive ports that were all free a moment ago (a receiver port base)."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(_LOW_PORT, _HIGH_PORT - count)
        sockets = []
        try:
            for offset in range(count):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", base + offset))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError(f"no {count} consecutive free ports on loopback")


# -- the convoload command -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ran:
    """What a `convoload` command left (the fields of subprocess.CompletedProcess it is compared with)."""

    returncode: int
    stdout: str
    stderr: str


def invoke(*args: str, cwd: Path | None = None, env: Mapping[str, str | None] | None = None) -> Ran:
    """`convoload ARGS` in this process, through `convoload.cli.main()` as the console script runs it.

    main() is what turns bad input into one line and exit code 2, so it runs whole (not only the Typer
    app); Typer's runner captures stdout and stderr. `env` values of None unset a variable for the call.
    Anything else main() lets escape is a crash and fails the test with its traceback.
    """
    from convoload.cli import main

    with contextlib.ExitStack() as stack:
        if cwd is not None:
            stack.enter_context(contextlib.chdir(cwd))
        out, err, _ = stack.enter_context(CliRunner().isolation(env={"COLUMNS": "160", **(env or {})}))
        stack.callback(setattr, sys, "argv", sys.argv)
        sys.argv = ["convoload", *args]
        try:
            main()
            code: object = 0
        except SystemExit as exited:
            code = exited.code
        sys.stdout.flush()
        sys.stderr.flush()
        # Read inside the isolation: its stream wrappers close the buffers when they are dropped.
        stdout, stderr = out.getvalue().decode(), err.getvalue().decode()
    if code is None:
        code = 0
    elif not isinstance(code, int):  # sys.exit("message"): Python prints it and exits 1
        stderr, code = f"{stderr}{code}\n", 1
    return Ran(code, stdout, stderr)


def spawn(
    *args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`python -m convoload ARGS` as a real process, for what only a process shows (its real entry point)."""
    return subprocess.run(
        [sys.executable, "-m", "convoload", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "160", **(env or {})},
    )


def error_line(result: Ran | subprocess.CompletedProcess[str]) -> str:
    """The one line of a refused input (exit code 2, no traceback), without its `error: ` prefix."""
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr[-3000:]
    assert lines[0].startswith("error: "), lines[0]
    return lines[0].removeprefix("error: ")


# -- processes a test starts (fixture `processes`), and waits with a deadline ---------------------------

TAG_ENV = "CONVOLOAD_TEST_PROCESS_TAG"
DEADLINE_S = 120.0

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
    from convoload.model import ConversationRecord

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


def _default_sigint() -> None:
    """In the child: take SIGINT as a terminal's Ctrl-C. A shell starts background jobs (`make test &`, CI
    steps) with SIGINT ignored, an ignored signal stays ignored across exec, and convoload keeps it so (as
    under nohup): the SIGINT tests would then wait for an exit that never comes."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Processes:
    """Processes one test starts, each tagged in its environment, which its children (demo agents, Locust
    workers, server children) inherit: `cleanup` kills every live process with the tag, even ones a failing
    test left behind or a parent left orphaned. Output goes to files, so a process never blocks on a full
    pipe and a test can wait for a line in it."""

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
            process = subprocess.Popen(
                args, stdout=out, stderr=err, cwd=cwd, env=self.env(**env), preexec_fn=_default_sigint
            )
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


# -- optional systems ------------------------------------------------------------------------------------


def postgres_user():
    """The `postgres` system user the throwaway server runs as, or None."""
    import pwd

    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        return None


def _postgres_missing() -> bool:
    import importlib.util
    import shutil

    return (
        any(shutil.which(tool) is None for tool in ("initdb", "postgres", "runuser"))
        or postgres_user() is None
        or importlib.util.find_spec("psycopg") is None
    )


needs_postgres = pytest.mark.skipif(
    _postgres_missing(),
    reason="PostgreSQL server binaries (initdb, postgres), a postgres user and psycopg are needed",
)


# -- the docs' examples ------------------------------------------------------------------------------------


def docs_blocks(page: str, section: str) -> dict[str, str]:
    """The first code block of each language in a section of a docs page (`guides/pipeline.md`, from the
    heading `section` to the next heading of level 1 to 3), an included example file as its content, so
    that a test runs the docs' example as written and the two cannot drift apart."""
    import re

    from tests.docs.blocks import DOCS, blocks_of

    path = DOCS / page
    lines = path.read_text(encoding="utf-8").splitlines()
    start = lines.index(section) + 1  # 1-based line of the heading
    end, fenced = len(lines) + 1, False
    for number, line in enumerate(lines[start:], start + 1):
        fenced ^= line.lstrip().startswith("```")
        if not fenced and re.match(r"#{1,3} ", line):
            end = number
            break
    blocks: dict[str, str] = {}
    for block in blocks_of(path):
        if start < block.line < end:
            blocks.setdefault(block.lang, block.body)
    return blocks
