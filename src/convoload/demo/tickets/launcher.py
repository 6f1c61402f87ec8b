"""Run the demo ticket server in a subprocess and wait for its ``READY`` line.

Only ``subprocess`` and blocking reads are used, so this works unchanged in a gevent
monkey-patched process (Locust): gevent makes ``select``/``Popen.wait`` cooperative.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, NoReturn

from convoload.demo.tickets.settings import TicketServerSettings

_READY_PREFIX = "READY "


def _package_root() -> str:
    """Directory that contains the ``convoload`` package (``src`` in a checkout)."""
    return str(Path(__file__).resolve().parents[3])


class DemoTicketServer:
    """Context manager owning one ``python -m convoload.demo.tickets`` subprocess.

    >>> with DemoTicketServer(TicketServerSettings(reply_delay_s=0.1)) as server:  # doctest: +SKIP
    ...     httpx.post(server.chat_url, json={"session_id": "s1", "text": "oi"})
    """

    def __init__(
        self,
        settings: TicketServerSettings | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout_s: float = 20.0,
        python: str | None = None,
    ) -> None:
        self.settings = settings or TicketServerSettings()
        self.host = host
        self.port = port
        self.startup_timeout_s = startup_timeout_s
        self.python = python or sys.executable
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._url: str | None = None

    # -- addresses -----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("DemoTicketServer is not running")
        return self._url

    @property
    def widget_url(self) -> str:
        return self.url + "/v1/webhooks/widget"

    @property
    def chat_url(self) -> str:
        return self.url + "/v1/chat"

    @property
    def health_url(self) -> str:
        return self.url + "/health"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def command(self) -> list[str]:
        return [
            self.python,
            "-m",
            "convoload.demo.tickets",
            "--host",
            self.host,
            "--port",
            str(self.port),
            *self.settings.cli_args(),
        ]

    # -- lifecycle -----------------------------------------------------------------------------------

    def start(self) -> DemoTicketServer:
        if self._proc is not None:
            raise RuntimeError("DemoTicketServer already started")
        env = dict(os.environ)
        # Make the package importable in the child even when it is not installed (src layout).
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_package_root(), env.get("PYTHONPATH")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        # stderr goes to a file, not a pipe: nobody drains it after startup and a full pipe would block.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server, closed in stop()
        self._proc = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            close_fds=True,
        )
        try:
            self._url = self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> str:
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        deadline = time.monotonic() + self.startup_timeout_s
        buffer = b""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._fail(f"did not print READY within {self.startup_timeout_s:.1f}s")
            readable, _, _ = select.select([fd], [], [], remaining)
            if not readable:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                self._proc.wait(timeout=5)
                self._fail(f"exited with code {self._proc.returncode} before it was ready")
            buffer += chunk
            while b"\n" in buffer:
                raw, buffer = buffer.split(b"\n", 1)
                line = raw.decode("utf-8", "replace").strip()
                if line.startswith(_READY_PREFIX):
                    return line[len(_READY_PREFIX) :].strip().rstrip("/")

    def _fail(self, reason: str) -> NoReturn:
        self._terminate()
        raise RuntimeError(f"demo ticket server {reason}; stderr:\n{self.stderr_text()}")

    def stderr_text(self) -> str:
        """Everything the server wrote to stderr so far (warnings, tracebacks)."""
        if self._stderr is None:
            return ""
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")

    def _terminate(self) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def stop(self) -> None:
        """SIGTERM, wait up to 5 s, then SIGKILL; safe to call more than once."""
        self._terminate()
        if self._proc is not None and self._proc.stdout is not None:
            self._proc.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
        self._proc, self._stderr, self._url = None, None, None

    def __enter__(self) -> DemoTicketServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
