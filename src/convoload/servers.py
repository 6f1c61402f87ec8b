"""Run a demo server (``python -m <module>``) in a subprocess and wait for its ``READY <url>`` line.

Parent side: :class:`ServerProcess`. Only ``subprocess``, ``select`` and blocking reads are used, so it
works unchanged in a gevent monkey-patched process (Locust): gevent makes ``select``/``Popen.wait``
cooperative. Child side: :func:`bind_socket` and :func:`ready_url`, so every demo server binds its own
socket (``--port 0`` works) and announces the real address the same way.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, ClassVar, NoReturn, Self

READY_PREFIX = "READY "

__all__ = ["READY_PREFIX", "ServerProcess", "bind_socket", "package_root", "ready_url", "serve_in_foreground"]


def package_root() -> str:
    """Directory that contains the ``convoload`` package (``src`` in a checkout)."""
    return str(Path(__file__).resolve().parents[1])


def bind_socket(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """Bound, listening TCP socket (IPv6 when the host is an IPv6 literal), for ``uvicorn.Server.run``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose proto says TCP.
    # Without it, uvicorn's separate header and body writes meet the client's delayed ACK (+40 ms).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


def start_server_process(host: str, port: int) -> socket.socket | None:
    """What every bundled server's `main` does first: warnings-only logging, then bind (None = reported)."""
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return bind_socket(host, port)
    except OSError as exc:
        print(f"cannot bind {host}:{port}: {exc}", file=sys.stderr)
        return None


def ready_url(sock: socket.socket, host: str) -> str:
    """``http://HOST:PORT`` of a bound socket; IPv6 literals get brackets."""
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


_PARENT_WATCH_ENV = "CONVOLOAD_EXIT_WITH_PARENT"


def serve(app: Any, sock: socket.socket) -> None:
    """Run an ASGI app on an already-bound socket until SIGTERM/SIGINT (or until the parent is gone)."""
    import uvicorn

    if os.environ.get(_PARENT_WATCH_ENV):
        _exit_with_parent()
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=3
    )
    uvicorn.Server(config).run(sockets=[sock])


def _exit_with_parent() -> None:
    """A server started by ServerProcess stops when its parent dies, even by kill -9.

    The parent holds our stdin pipe open and never writes to it: end-of-file means the parent is gone.
    """

    def watch() -> None:
        sys.stdin.buffer.read()
        os.kill(os.getpid(), signal.SIGTERM)  # uvicorn's graceful shutdown
        time.sleep(10)
        os._exit(1)  # it did not stop in time

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def serve_in_foreground(command: Sequence[str]) -> int:
    """Run a bundled server (``python -m <module> ...``) as this process's child until it exits.

    What ``convoload serve-demo`` and ``serve-faulty`` do. SIGTERM and SIGINT are passed on to the server
    and waited for, so that it never outlives this process, still listening, reparented to PID 1; a
    second signal kills it. The child runs in a session of its own (a terminal's Ctrl-C reaches it
    once, through here) and, like every server ServerProcess starts, exits when this process dies
    without passing anything on (kill -9). Returns 128 + the signal when one ended it (130, 143), else
    the server's exit code.
    """
    from convoload.signals import exit_code, install

    env = {**os.environ, _PARENT_WATCH_ENV: "1"}
    child = subprocess.Popen(list(command), stdin=subprocess.PIPE, env=env, start_new_session=True)
    received: list[int] = []

    def pass_on(signum: int) -> None:
        if child.poll() is None:
            if received:  # the second signal: no more waiting
                child.kill()
            else:
                child.send_signal(signum)
        received.append(signum)

    undo = install(pass_on)
    try:
        code = child.wait()
    finally:
        undo()
        if child.poll() is None:  # we are leaving on an exception: never without the server
            child.kill()
            child.wait()
        if child.stdin is not None:
            child.stdin.close()
    return exit_code(received[0]) if received else code


class ServerProcess:
    """Context manager owning one ``python -m <module> <args>`` subprocess.

    ``start()`` returns once the child printed ``READY <url>`` on stdout; it raises ``RuntimeError``
    (with the child's stderr) when the child exits first or stays silent past ``startup_timeout_s``.

    >>> with ServerProcess("my_pack.server", ["--port", "0"]) as proc:  # doctest: +SKIP
    ...     httpx.get(proc.url + "/health")
    """

    def __init__(
        self,
        module: str,
        args: Sequence[str] = (),
        *,
        name: str | None = None,
        startup_timeout_s: float = 20.0,
        python: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.module = module
        self.args = list(args)
        self.name = name or module
        self.startup_timeout_s = startup_timeout_s
        self.python = python or sys.executable
        self.extra_env = dict(env or {})
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError(f"{self.name} is not running")
        return self._url

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def proc(self) -> subprocess.Popen[bytes] | None:
        """The child process while started (``None`` before ``start()`` and after ``stop()``)."""
        return self._proc

    def command(self) -> list[str]:
        return [self.python, "-m", self.module, *self.args]

    # -- lifecycle -----------------------------------------------------------------------------------

    def start(self) -> Self:
        if self._proc is not None:
            raise RuntimeError(f"{self.name} already started")
        env = dict(os.environ)
        env.update(self.extra_env)
        # Make the package importable in the child even when it is not installed (src layout).
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root(), env.get("PYTHONPATH")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        env[_PARENT_WATCH_ENV] = "1"
        # stderr goes to a file, not a pipe: nobody drains it after startup and a full pipe would block.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server, closed in stop()
        try:
            self._proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.PIPE,  # held open, never written: the child exits when it closes
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                env=env,
                close_fds=True,
            )
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
                if line.startswith(READY_PREFIX):
                    return line[len(READY_PREFIX) :].strip().rstrip("/")

    def _fail(self, reason: str) -> NoReturn:
        self._terminate()
        raise RuntimeError(f"{self.name} {reason}; stderr:\n{self.stderr_text()}")

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
        if self._proc is not None and self._proc.stdin is not None:
            self._proc.stdin.close()
        if self._proc is not None and self._proc.stdout is not None:
            self._proc.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
        self._proc, self._stderr, self._url = None, None, None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class ManagedServer:
    """A bundled server run as `python -m <module>`: subclasses give the module, a label and the flags.

    Provides the addresses, `start`/`stop`, and the context-manager protocol shared by the demo agent
    and the local LLM provider.
    """

    module: ClassVar[str]
    label: ClassVar[str]
    # The server's settings model (with `cli_args()`), built with its defaults when none are given;
    # None: the subclass has no settings, or insists on being given them.
    settings_type: ClassVar[Callable[[], Any] | None] = None
    default_startup_timeout_s: ClassVar[float] = 20.0

    def __init__(
        self,
        settings: Any = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout_s: float | None = None,
        python: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.startup_timeout_s = startup_timeout_s or self.default_startup_timeout_s
        self.python = python or sys.executable
        if settings is None and self.settings_type is not None:
            settings = self.settings_type()
        self.settings = settings
        self._server: ServerProcess | None = None

    def _args(self) -> list[str]:
        """The command-line flags after `-m module` (built at start, so attribute changes apply)."""
        return ["--host", self.host, "--port", str(self.port), *self._settings_args()]

    def _settings_args(self) -> list[str]:
        cli_args = getattr(self.settings, "cli_args", None)
        return cli_args() if cli_args is not None else []

    def _env(self) -> dict[str, str]:
        """Extra environment for the child: where secrets go, never on its (world-readable) command line."""
        return {}

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"{self.label} is not running")
        return self._server.url

    @property
    def health_url(self) -> str:
        return self.url + "/health"

    @property
    def pid(self) -> int | None:
        return self._server.pid if self._server else None

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError(f"{self.label} already started")
        server = ServerProcess(
            self.module,
            self._args(),
            name=self.label,
            startup_timeout_s=self.startup_timeout_s,
            python=self.python,
            env=self._env(),
        )
        server.start()  # cleans up after itself when it raises
        self._server = server
        return self

    def stderr_text(self) -> str:
        """Everything the server wrote to stderr so far (warnings, tracebacks)."""
        return self._server.stderr_text() if self._server else ""

    def stop(self) -> None:
        """SIGTERM, wait up to 5 s, then SIGKILL; safe to call more than once."""
        if self._server is not None:
            self._server.stop()
        self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
