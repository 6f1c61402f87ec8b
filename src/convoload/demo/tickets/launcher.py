"""Run the demo ticket server in a subprocess and wait for its ``READY`` line.

The subprocess handling (gevent-friendly blocking reads, stderr capture, SIGTERM then SIGKILL) lives in
:class:`convoload.demo.process.ServerProcess`; this class adds the ticket server's command line and URLs.
"""

from __future__ import annotations

import subprocess
import sys
from types import TracebackType

from convoload.demo.process import ServerProcess
from convoload.demo.tickets.settings import TicketServerSettings

_MODULE = "convoload.demo.tickets"


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
        self._server: ServerProcess | None = None

    # -- addresses -----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("DemoTicketServer is not running")
        return self._server.url

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
        return self._server.pid if self._server else None

    @property
    def _proc(self) -> subprocess.Popen[bytes] | None:
        return self._server.proc if self._server else None

    def _args(self) -> list[str]:
        return ["--host", self.host, "--port", str(self.port), *self.settings.cli_args()]

    def command(self) -> list[str]:
        return [self.python, "-m", _MODULE, *self._args()]

    # -- lifecycle -----------------------------------------------------------------------------------

    def start(self) -> DemoTicketServer:
        if self._server is not None:
            raise RuntimeError("DemoTicketServer already started")
        # Built at start so changes to the public attributes after construction still apply.
        server = ServerProcess(
            _MODULE,
            self._args(),
            name="demo ticket server",
            startup_timeout_s=self.startup_timeout_s,
            python=self.python,
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

    def __enter__(self) -> DemoTicketServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
