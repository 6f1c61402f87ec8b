"""Run the demo ticket server in a subprocess and wait for its ``READY`` line.

The subprocess handling (gevent-friendly blocking reads, stderr capture, SIGTERM then SIGKILL) lives in
:mod:`convoload.servers`; this class adds the ticket server's command line and URLs.
"""

from __future__ import annotations

import subprocess

from convoload.servers import ManagedServer
from convoload_demo.tickets.settings import TicketServerSettings


class DemoTicketServer(ManagedServer):
    """Context manager owning one ``python -m convoload_demo.tickets`` subprocess.

    >>> with DemoTicketServer(TicketServerSettings(reply_delay_s=0.1)) as server:  # doctest: +SKIP
    ...     httpx.post(server.chat_url, json={"session_id": "s1", "text": "oi"})
    """

    module = "convoload_demo.tickets"
    label = "demo ticket server"
    settings_type = TicketServerSettings

    @property
    def widget_url(self) -> str:
        return self.url + "/v1/webhooks/widget"

    @property
    def chat_url(self) -> str:
        return self.url + "/v1/chat"

    @property
    def _proc(self) -> subprocess.Popen[bytes] | None:
        return self._server.proc if self._server else None

    def command(self) -> list[str]:
        return [self.python, "-m", self.module, *self._args()]
