"""A gevent.pywsgi server for many small requests: the webhook receiver and the master's forwarder.

pywsgi spends most of a small request outside the application: it parses the header block
with the standard library's e-mail parser (about 55 µs a request), formats an access-log line
even with logging off, and formats the Date header anew each time. With hundreds of callbacks
a second in one process that CPU delays every other conversation sharing it. This handler
reads the header block itself, under the limits http.client applies, and leaves the rest of
pywsgi (chunked bodies, 100-continue, keep-alive, error answers) as it is.
"""

from __future__ import annotations

import socket
import time
from typing import IO, Any

from gevent.pywsgi import WSGIHandler, WSGIServer, format_date_time

MAX_HEADER_LINE = 65536  # http.client's _MAXLINE
MAX_HEADERS = 100  # http.client's _MAXHEADERS


class RequestHeaders:
    """A request's header block, with the part of the `http.client.HTTPMessage` API pywsgi uses.

    A `status` that is not empty makes pywsgi answer 400 without calling the application.
    """

    __slots__ = ("_lines", "_values", "status")

    def __init__(self, rfile: IO[bytes]) -> None:
        self.status = ""
        self._lines: list[str] = []  # "Name: value\r\n", as pywsgi builds the WSGI environ from them
        self._values: dict[str, str] = {}  # lower-case name -> first value, as Message.get answers
        last: str | None = None  # the header a folded continuation line extends
        extends_value = False  # ... and whether it is the occurrence `get` answers with
        while True:
            raw = rfile.readline(MAX_HEADER_LINE + 1)
            if len(raw) > MAX_HEADER_LINE:
                self.status = "Line too long"
                return
            if raw in (b"\r\n", b"\n", b""):
                return
            if len(self._lines) >= MAX_HEADERS:
                self.status = f"More than {MAX_HEADERS} headers"
                return
            line = raw.decode("latin-1")
            if not line.endswith("\r\n"):
                line = line.rstrip("\n") + "\r\n"
            if line[0] in " \t":  # an obsolete folded continuation of the previous header
                if last is None:
                    self.status = "Continuation line before any header"
                    return
                self._lines.append(line)
                if extends_value:
                    self._values[last] += " " + line.strip()
                continue
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip():
                self.status = f"Invalid header line {line.rstrip()!r}"
                return
            self._lines.append(line)
            last = name.lower()
            extends_value = last not in self._values
            if extends_value:
                self._values[last] = value.strip()

    def get(self, name: str, default: Any = None) -> Any:
        return self._values.get(name.lower(), default)

    getheader = get

    @property
    def typeheader(self) -> str | None:
        return self._values.get("content-type")

    @property
    def headers(self) -> list[str]:
        return self._lines

    def __delitem__(self, name: str) -> None:
        key = name.lower()
        if self._values.pop(key, None) is None:
            raise KeyError(name)
        kept: list[str] = []
        dropping = False
        for line in self._lines:
            if line[0] in " \t":
                if not dropping:
                    kept.append(line)
                continue
            dropping = line.partition(":")[0].lower() == key
            if not dropping:
                kept.append(line)
        self._lines = kept


_date = (0, b"")


def _http_date() -> bytes:
    """The Date header's value, formatted once a second rather than per response."""
    global _date
    now = int(time.time())
    if _date[0] != now:
        _date = (now, format_date_time(now))
    return _date[1]


class LeanWSGIHandler(WSGIHandler):
    def MessageClass(self, rfile: IO[bytes], *_args: Any) -> RequestHeaders:  # pywsgi's name
        return RequestHeaders(rfile)

    def log_request(self) -> None:
        """No access log: what arrives is counted by the application instead."""

    def finalize_headers(self) -> None:
        if self.provided_date is None:
            self.provided_date = _http_date()
            self.response_headers.append((b"Date", self.provided_date))
        super().finalize_headers()


class LeanWSGIServer(WSGIServer):
    """pywsgi with the lean handler, and without Nagle's delay on accepted connections.

    Without TCP_NODELAY a client waiting on our small answer before sending its next request
    (an agent's callbacks, one after another) can wait for the delayed-ACK timer.
    """

    handler_class = LeanWSGIHandler

    def handle(self, sock: socket.socket, address: Any) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle(sock, address)
