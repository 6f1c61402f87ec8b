"""A gevent.pywsgi server for many small requests: the webhook receiver and the master's forwarder.

pywsgi spends most of a small request outside the application: it parses the header block
with the standard library's e-mail parser, formats an access-log line
even with logging off, and formats the Date header anew each time. With hundreds of callbacks
a second in one process that CPU delays every other conversation sharing it. This handler
reads the header block itself, under the limits http.client applies, and leaves the rest of
pywsgi (chunked bodies, 100-continue, keep-alive, error answers) as it is.

Both servers face the internet (an agent's callbacks, often through a tunnel), so slow clients
must not hold them: a request's header block must arrive within `header_timeout_s` (from the
connection opening; on a kept-alive connection, from the end of its request line, which must
come within `idle_timeout_s`), its body within `body_timeout_s` of the header block, and a
kept-alive connection idle for `idle_timeout_s` is closed. Past `max_connections` open
connections a new one is answered 503 and closed at once rather than queued. Slow clients and
refused connections are counted (`slow_client`, `overloaded`), never logged one by one.

The deadlines cost a request almost nothing: each phase only writes its deadline (a float) on
the connection's handler, and one sweeper per server, a few times per shortest timeout, shuts
down the connections past theirs, so the blocked read ends (no timer per request, no exception
thrown into the application). The time the application works (the forwarder waiting on a
worker) is not the client's: a body already read whole never expires.
"""

from __future__ import annotations

import contextlib
import math
import socket
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from typing import IO, Any

import gevent
from gevent import GreenletExit
from gevent.pywsgi import WSGIHandler, WSGIServer, format_date_time

from convoload.targets.callback_tokens import redact_callback_tokens

MAX_HEADER_LINE = 65536  # http.client's _MAXLINE
MAX_HEADERS = 100  # http.client's _MAXHEADERS
_OWS = " \t"  # the whitespace around a value (str.strip() would also take obs-text such as NBSP)


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
            if line.find("\r", 0, -2) >= 0:  # the e-mail parser would split the line there: refused
                self.status = f"Invalid header line {line.rstrip()!r}"
                return
            if line[0] in " \t":  # an obsolete folded continuation of the previous header
                if last is None:
                    self.status = "Continuation line before any header"
                    return
                self._lines.append(line)
                if extends_value:
                    self._values[last] += " " + line[:-2].strip(_OWS)
                continue
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip():
                self.status = f"Invalid header line {line.rstrip()!r}"
                return
            self._lines.append(line)
            last = name.lower()
            extends_value = last not in self._values
            if extends_value:
                self._values[last] = value[:-2].strip(_OWS)

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


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """How long a client may take to send its request, and how many connections may be open."""

    header_timeout_s: float = 5.0  # the request line and headers (see the module's docstring)
    body_timeout_s: float = 10.0  # the whole body, from the end of the header block
    idle_timeout_s: float = 15.0  # a kept-alive connection waiting for its next request
    max_connections: int = 4096  # open at once; past it a new connection gets 503 and is closed

    @property
    def sweep_interval_s(self) -> float:
        """How often deadlines are checked: a deadline is kept to within a quarter of the shortest."""
        shortest = min(self.header_timeout_s, self.body_timeout_s, self.idle_timeout_s)
        return min(1.0, max(0.02, shortest / 4))


def _closing_answer(status: str, body: bytes) -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"Connection: close\r\n\r\n" + body


_OVERLOADED = _closing_answer("503 Service Unavailable", b'{"status": "overloaded"}')

# What the client is expected to be sending: the phases a deadline applies to, and the others.
_HEADERS, _BODY, _IDLE, _WORKING = "headers", "body", "idle", "working"


class LeanWSGIHandler(WSGIHandler):
    phase = _HEADERS
    due = math.inf  # time.monotonic() by which the client must be done with this phase
    expired = False  # the sweeper shut the connection down: whatever was read is incomplete
    _answered = 0  # requests answered on this connection

    def MessageClass(self, rfile: IO[bytes], *_args: Any) -> RequestHeaders:  # pywsgi's name
        return RequestHeaders(rfile)

    def handle(self) -> None:
        server: LeanWSGIServer = self.server
        self.due = time.monotonic() + server.limits.header_timeout_s
        server.handlers.add(self)
        try:
            super().handle()
        finally:
            server.handlers.discard(self)

    def expire(self) -> None:
        """Called by the sweeper past the deadline: shut the connection down, its read ends at once."""
        if self.phase == _BODY and self._body_read():
            self.phase, self.due = _WORKING, math.inf  # the application works on: not the client's time
            return
        if self.phase != _IDLE:  # an idle kept-alive connection closed is no fault
            self.server.counters["slow_client"] += 1
        self.expired, self.due = True, math.inf
        with contextlib.suppress(OSError, AttributeError):  # already closed, or gone
            self.socket.shutdown(socket.SHUT_RDWR)

    def _body_read(self) -> bool:
        given = self.wsgi_input
        if given is None:
            return True
        if given.chunked_input:
            return given.chunk_length == 0
        return given.position >= (given.content_length or 0)

    def read_requestline(self) -> str:
        line = super().read_requestline()
        if self.expired:
            return ""  # closed: the request never came (whole)
        if self._answered:  # kept alive: the header block's deadline starts once its request line is in
            self.phase, self.due = _HEADERS, time.monotonic() + self.server.limits.header_timeout_s
        return line

    def read_request(self, raw_requestline: str) -> bool:
        parsed = super().read_request(raw_requestline)
        if self.expired:
            raise ValueError("the header block was cut off at its deadline")  # answered by nobody
        return parsed

    def get_environ(self) -> dict[str, Any]:
        environ = super().get_environ()
        given = self.wsgi_input
        if environ.get("wsgi.input") is given and (given.content_length or given.chunked_input):
            self.phase, self.due = _BODY, time.monotonic() + self.server.limits.body_timeout_s
        else:
            self.phase, self.due = _WORKING, math.inf
        return environ

    def handle_one_response(self) -> None:
        super().handle_one_response()
        self._answered += 1
        self.phase, self.due = _IDLE, time.monotonic() + self.server.limits.idle_timeout_s

    # A connection shut down at its deadline ends whatever read was under way short: pywsgi would
    # complain about it (a 400, a logged traceback and a 500). It was counted: close quietly.
    def _handle_client_error(self, ex: BaseException) -> Any:
        if self.expired:
            self.close_connection = True
            return None
        return super()._handle_client_error(ex)

    def handle_error(self, t: type[BaseException], v: BaseException, tb: Any) -> None:
        if self.expired:
            self.close_connection = True
            return
        super().handle_error(t, v, tb)

    def _send_error_response_if_possible(self, error_code: int) -> None:
        if self.expired:
            self.close_connection = True
            return
        super()._send_error_response_if_possible(error_code)

    def log_error(self, msg: str, *args: Any) -> None:
        """pywsgi's complaints about bad requests quote the request line: never with a callback token."""
        try:
            message = msg % args if args else msg
        except (TypeError, ValueError):
            message = f"{msg!r} {args!r}"
        self.server.error_log.write(redact_callback_tokens(f"{self.client_address}: {message}") + "\n")

    def _log_error(self, t: type[BaseException], v: BaseException, tb: Any) -> None:
        """An application error, logged without the WSGI environ (its path holds a callback token)."""
        if issubclass(t, GreenletExit):
            return
        text = "".join(traceback.format_exception(t, v, tb))
        self.server.error_log.write(redact_callback_tokens(f"error answering a request: {text}"))

    def log_request(self) -> None:
        """No access log: what arrives is counted by the application instead."""

    def finalize_headers(self) -> None:
        if self.provided_date is None:
            self.provided_date = _http_date()
            self.response_headers.append((b"Date", self.provided_date))
        super().finalize_headers()


class LeanWSGIServer(WSGIServer):
    """pywsgi with the lean handler, the limits above, and without Nagle's delay on accepted connections.

    Without TCP_NODELAY a client waiting on our small answer before sending its next request
    (an agent's callbacks, one after another) can wait for the delayed-ACK timer. `counters`
    receives `slow_client` and `overloaded` (the receiver passes its own verdict counters).
    """

    handler_class = LeanWSGIHandler

    def __init__(
        self,
        listener: Any,
        application: Any = None,
        *,
        limits: ConnectionLimits | None = None,
        counters: Counter[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(listener, application, **kwargs)
        self.limits = limits or ConnectionLimits()
        self.counters: Counter[str] = counters if counters is not None else Counter()
        self.handlers: set[LeanWSGIHandler] = set()  # one per open connection
        self._sweeper: gevent.Greenlet | None = None

    @property
    def open_connections(self) -> int:
        return len(self.handlers)

    def start(self) -> None:
        super().start()
        if self._sweeper is None:
            self._sweeper = gevent.spawn(self._sweep)

    def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.kill(block=False)
            self._sweeper = None
        super().close()

    def _sweep(self) -> None:
        interval = self.limits.sweep_interval_s
        while True:
            gevent.sleep(interval)
            now = time.monotonic()
            for handler in [h for h in self.handlers if h.due <= now]:
                handler.expire()

    def handle(self, sock: socket.socket, address: Any) -> None:
        if len(self.handlers) >= self.limits.max_connections:
            # Answered and closed at once: a full server that queued connections instead (a gevent
            # Pool stops accepting) would make every later callback wait behind the ones holding it.
            self.counters["overloaded"] += 1
            _refuse(sock)
            return
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().handle(sock, address)


def _refuse(sock: socket.socket) -> None:
    try:
        sock.sendall(_OVERLOADED)
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(0)
        sock.recv(65536)  # what the client already sent: unread, closing would answer with a reset
    except OSError:
        pass
    finally:
        sock.close()
