"""The webhook receiver: a gevent WSGI server that hands callbacks to waiting users.

Each turn registers a `PendingReply` before its request is sent; the callback
handler resolves it, which wakes the waiting greenlet at once through a
`gevent.event.AsyncResult` (no polling). Each callback URL is a capability for
one turn of one conversation:
  {public_url}/cb/{token}/{session_id}/{iteration}
with token = HMAC(run secret, session and turn) (see convoload.targets.callback_tokens),
or, when a Locust master forwards callbacks to its workers, the master's address for
this worker in place of {public_url} (see convoload.load.forwarder). A URL learned
for one conversation opens no other, nor another turn of its own; the run secret is
never in a URL, and tokens are redacted from callback bodies and error messages.
With `signature` set, a callback must also carry an HMAC of its body (see
convoload.targets.signatures).

Anything that is not an expected, fresh callback is rejected and counted in its
own category, never mixed into a live turn:
  forged (403): a token that is not this turn's (another conversation's URL, another
    turn's path, a guessed token), or a missing, wrong or stale signature;
  unknown (404): a path that names no turn (junk, an absurd iteration, a turn not sent);
  late (410): a valid URL of a turn already finished, e.g. an earlier turn of the same
    conversation: never accepted into the turn in flight;
  duplicate (409): the same message id twice; oversized (413); malformed (not JSON, 400);
  bad_method (405).
The server itself counts `slow_client` (header block or body not sent in time: the
connection is closed) and `overloaded` (past max_connections: 503); see lean_wsgi.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import os
import re
import socket
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Any

import gevent
from gevent.event import AsyncResult, Event
from pydantic_core import from_json

from convoload.model import ErrorKind
from convoload.targets.base import TargetError
from convoload.targets.callback_tokens import CallbackTokens, redact_callback_tokens_in_bytes
from convoload.targets.lean_wsgi import ConnectionLimits, LeanWSGIServer
from convoload.targets.signatures import SignatureVerifier
from convoload.targets.templating import extract

log = logging.getLogger(__name__)

_FINISHED_MEMORY = 200_000  # finished turns remembered to tell "late" from "unknown"
_MAX_ITERATION_DIGITS = 9  # int() of 4,300+ digits is an error, and no run has a billion turns
_MALFORMED = object()
_URL_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def render_url_template(template: str, **values: object) -> str:
    """Fill `{host}`, `{port}`, `{worker_index}`, `{hostname}` and `{env.NAME}` in a URL template.

    `{hostname}` is this machine's name (a pod's name on Kubernetes); `{env.NAME}` reads the
    environment (e.g. a pod IP from the downward API). Anything else is an error, not a silent blank.
    """

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("env."):
            value = os.environ.get(name[4:])
            if value is None:
                raise ValueError(f"environment variable {name[4:]} (in {template!r}) is not set")
            return value
        if name == "hostname":
            return socket.gethostname()
        if values.get(name) is not None:
            return str(values[name])
        if name == "worker_index":
            raise ValueError(f"{template!r}: {{worker_index}} has a value only under Locust workers")
        raise ValueError(f"{template!r}: unknown placeholder {{{name}}} here")

    return _URL_PLACEHOLDER.sub(fill, template).rstrip("/")


@dataclass(slots=True)
class Callback:
    document: Any
    received_at: float  # time.perf_counter() when the body was parsed


@dataclass(slots=True)
class PendingReply:
    session_id: str
    iteration: int
    token: bytes = b""  # its callback URL's token: a callback for a waiting turn costs no HMAC
    first: AsyncResult = field(default_factory=AsyncResult)
    more: Event = field(default_factory=Event)
    callbacks: list[Callback] = field(default_factory=list)
    seen_ids: set[str] = field(default_factory=set)
    final: bool = False
    more_to_come: bool = False  # the latest callback said it is not the last (final flag false)
    cut_short: bool = False  # the turn's time ran out while more was still to come

    def deliver(self, callback: Callback, final_flag: bool | None) -> None:
        self.callbacks.append(callback)
        self.final = self.final or final_flag is True
        self.more_to_come = final_flag is False
        if len(self.callbacks) == 1:
            self.first.set(callback)
        else:
            self.more.set()


@functools.cache
def _answer(verdict: str) -> bytes:
    return json.dumps({"status": verdict}).encode()


class WebhookReceiver:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        public_url: str | None = None,
        max_body_bytes: int = 256 * 1024,
        message_id_path: str | None = "messageId",
        final_path: str | None = None,
        secret: str | None = None,
        worker_index: int | None = None,
        callback_base: str | None = None,
        signature: SignatureVerifier | None = None,
        limits: ConnectionLimits | None = None,
    ) -> None:
        """`worker_index` fills `{worker_index}` in `public_url` (under Locust workers); `callback_base`
        replaces the public URL in callback URLs (a master forwarding to us); `secret` keys the
        callback tokens (random by default); `signature` requires signed callbacks."""
        self.host = host
        self.port = port
        self._public_url = public_url
        self.worker_index = worker_index
        self.callback_base = callback_base
        self.max_body_bytes = max_body_bytes
        self.message_id_path = message_id_path
        self.final_path = final_path
        self.tokens = CallbackTokens(secret)
        self.signature = signature
        self.limits = limits or ConnectionLimits()
        self.counters: Counter[str] = Counter()
        self._pending: dict[tuple[str, int], PendingReply] = {}
        self._finished: OrderedDict[tuple[str, int], tuple[str, ...]] = OrderedDict()
        self._server: LeanWSGIServer | None = None
        self._callback_base: str | None = None

    # -- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> WebhookReceiver:
        if self._server is None:
            # A deep listen queue: callbacks arrive in bursts when many turns end together, and a full
            # queue (gevent's default holds 128) drops connection attempts the agent's side retries
            # only seconds later (SYN retransmits).
            self._server = LeanWSGIServer(
                (self.host, self.port),
                self._app,
                log=None,
                error_log=log,
                backlog=4096,
                limits=self.limits,
                counters=self.counters,
            )
            self._server.start()
            self.port = self._server.server_port
            self._callback_base = self.callback_base or self.public_url  # once: it is in every request
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(timeout=1)
            self._server = None

    @property
    def public_url(self) -> str:
        """Where we are reachable: the agent's callbacks go here (or a forwarding master does)."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host
        template = self._public_url or "http://{host}:{port}"
        return render_url_template(template, host=host, port=self.port, worker_index=self.worker_index)

    def callback_url(self, session_id: str, iteration: int) -> str:
        """The URL that answers this turn, and no other (a capability: never log or store it)."""
        base = self._callback_base or self.callback_base or self.public_url
        pending = self._pending.get((session_id, iteration))
        token = pending.token if pending is not None else self.tokens.for_turn(session_id, iteration)
        return f"{base}/cb/{token.decode()}/{session_id}/{iteration}"

    # -- the waiting side ---------------------------------------------------------------------------
    def expect(self, session_id: str, iteration: int) -> PendingReply:
        key = (session_id, iteration)
        if key in self._pending:
            raise RuntimeError(f"turn {key} is already waiting for a callback")
        pending = PendingReply(session_id, iteration, self.tokens.for_turn(session_id, iteration))
        self._pending[key] = pending
        return pending

    def wait(
        self, pending: PendingReply, timeout_s: float, quiet_period_s: float = 0.0
    ) -> tuple[list[Callback], float]:
        """Block this greenlet until the turn's reply is complete; returns callbacks and wake delay (ms).

        The reply is complete at a callback marked final, or at the first callback, or, with a quiet
        period, when no further callback arrived for that long. A callback whose final flag is
        explicitly false announces more: the turn then waits for the rest (a reply split into several
        messages) until one is final or `timeout_s` runs out, and keeps what arrived (`cut_short`).
        """
        deadline = time.perf_counter() + timeout_s
        try:
            first: Callback = pending.first.get(timeout=timeout_s)
        except gevent.Timeout:
            raise TargetError(ErrorKind.WEBHOOK_TIMEOUT, f"no callback within {timeout_s:g} s") from None
        wake_ms = (time.perf_counter() - first.received_at) * 1000
        while not pending.final:
            if pending.more_to_come:
                pending.more.clear()
                if not pending.more.wait(max(0.0, deadline - time.perf_counter())):
                    pending.cut_short = True
                    break
            elif quiet_period_s > 0:
                pending.more.clear()
                if not pending.more.wait(quiet_period_s):
                    break
            else:
                break
        return list(pending.callbacks), wake_ms

    def release(self, pending: PendingReply) -> None:
        """The turn is over: later callbacks for it count as late (or duplicate)."""
        key = (pending.session_id, pending.iteration)
        if self._pending.get(key) is pending:
            del self._pending[key]
        # A tuple: far smaller than the set, and not tracked by the garbage collector's full passes.
        self._finished[key] = tuple(pending.seen_ids)
        if len(self._finished) > _FINISHED_MEMORY:
            self._finished.popitem(last=False)

    # -- the HTTP side ------------------------------------------------------------------------------
    def _app(self, environ: dict, start_response) -> list[bytes]:
        verdict, status = self._handle(environ)
        self.counters[verdict] += 1
        body = _answer(verdict)
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    def _handle(self, environ: dict) -> tuple[str, str]:
        if environ.get("REQUEST_METHOD") != "POST":
            return "bad_method", "405 Method Not Allowed"
        parts = environ.get("PATH_INFO", "").strip("/").split("/")
        if len(parts) != 4 or parts[0] != "cb" or not parts[2]:
            return "unknown", "404 Not Found"
        _, token, session_id, iteration_text = parts
        # ASCII digits only (str.isdigit also takes "²", which int() refuses), and not too many.
        if (
            not (iteration_text.isascii() and iteration_text.isdigit())
            or len(iteration_text) > _MAX_ITERATION_DIGITS
        ):
            return "unknown", "404 Not Found"
        try:
            declared = int(environ.get("CONTENT_LENGTH") or -1)
        except ValueError:
            declared = -1
        if declared > self.max_body_bytes:
            return "oversized", "413 Payload Too Large"
        key = (session_id, int(iteration_text))
        pending = self._pending.get(key)
        # PATH_INFO is latin-1 text of the path's bytes: encoding it back gives those bytes exactly.
        if pending is not None:
            expected = pending.token
        else:
            expected = self.tokens.token(session_id.encode("latin-1"), iteration_text.encode())
        if not hmac.compare_digest(token.encode("latin-1"), expected):
            return "forged", "403 Forbidden"
        raw = environ["wsgi.input"].read(declared if declared >= 0 else self.max_body_bytes + 1)
        if len(raw) > self.max_body_bytes:
            return "oversized", "413 Payload Too Large"
        if self.signature is not None and not self.signature.verify(environ, raw):
            return "forged", "403 Forbidden"
        # An agent that echoes its callback URL must not carry the token into transcripts and reports.
        raw = redact_callback_tokens_in_bytes(raw)
        try:
            document = from_json(raw)
        except (ValueError, UnicodeDecodeError):
            document = _MALFORMED
        message_id = self._message_id(document, raw)
        if pending is None:
            seen = self._finished.get(key)
            if seen is None:
                return "unknown", "404 Not Found"
            return ("duplicate", "409 Conflict") if message_id in seen else ("late", "410 Gone")
        if document is _MALFORMED:
            return "malformed", "400 Bad Request"
        if message_id in pending.seen_ids:
            return "duplicate", "409 Conflict"
        pending.seen_ids.add(message_id)
        pending.deliver(Callback(document, time.perf_counter()), self._final_flag(document))
        return "accepted", "202 Accepted"

    def _message_id(self, document: Any, raw: bytes) -> str:
        # Senders that retry resend the same message id; without one, identical bodies are duplicates.
        if self.message_id_path and document is not _MALFORMED:
            try:
                found = extract(document, self.message_id_path)
                if found not in (None, ""):
                    return f"id:{found}"
            except KeyError:
                pass
        return "sha1:" + hashlib.sha1(raw).hexdigest()

    def _final_flag(self, document: Any) -> bool | None:
        """The callback's final flag: True (the last), False (more to come), None (no flag)."""
        if not self.final_path:
            return None
        try:
            flag = extract(document, self.final_path)
        except KeyError:
            return None
        return flag if isinstance(flag, bool) else None
