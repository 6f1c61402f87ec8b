"""One public callback address on the Locust master, forwarding each callback to its worker.

For agents that can only call one address (one ingress, one tunnel, one firewall opening), the
master — which runs no conversations itself — listens on it. Each worker's callback URLs are
  {forwarder public URL}/w/{worker index}/cb/{token}/{session}/{iteration}
and the master POSTs the body to that worker's own receiver (the address the worker reported),
with the headers a callback signature needs, relaying the receiver's status and body unchanged:
forged 403, unknown 404, duplicate 409, late 410, oversized 413 and malformed 400 mean the same
here. The master holds no secret: the worker checks the token and the signature. What the master
itself rejects or cannot deliver is counted separately (`unknown_worker` 404, `forward_failed` 502,
`oversized` 413, `bad_method` 405, and its server's `slow_client` and `overloaded`), and all of it
appears in the master's aggregate (`run.forwarder_stats`). Nothing it logs names a callback path.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from http import HTTPStatus

import gevent
from geventhttpclient import HTTPClient
from geventhttpclient.url import URL

from convoload.targets.callback_tokens import redact_callback_tokens
from convoload.targets.lean_wsgi import ConnectionLimits, LeanWSGIServer
from convoload.targets.receiver import render_url_template
from convoload.targets.signatures import environ_key

log = logging.getLogger(__name__)

_ROUTE = re.compile(r"^/w/([0-9]{1,6})(/.*)$")  # no absurd worker index: int() of thousands of digits fails
_MAX_RESPONSE_BYTES = 64 * 1024  # a receiver's answers are tiny JSON documents


class CallbackForwarder:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        public_url: str | None = None,
        *,
        timeout_s: float = 10.0,
        max_body_bytes: int = 256 * 1024,
        limits: ConnectionLimits | None = None,
        forward_headers: tuple[str, ...] = (),
    ) -> None:
        """`forward_headers`: request headers passed on to the worker (a callback signature's)."""
        self.host = host
        self.port = port
        self._public_url = public_url
        self.timeout_s = timeout_s
        self.max_body_bytes = max_body_bytes
        self.limits = limits or ConnectionLimits()
        self._forward_headers = tuple((name, environ_key(name)) for name in forward_headers)
        self.counters: Counter[str] = Counter()
        self._routes: dict[int, tuple[str, HTTPClient]] = {}
        self._server: LeanWSGIServer | None = None

    # -- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> CallbackForwarder:
        if self._server is None:
            self._server = LeanWSGIServer(
                (self.host, self.port),
                self._app,
                log=None,
                error_log=log,
                limits=self.limits,
                counters=self.counters,
            )
            self._server.start()
            self.port = self._server.server_port
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(timeout=1)
            self._server = None
        for _, client in self._routes.values():
            client.close()
        self._routes.clear()

    @property
    def public_url(self) -> str:
        host = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host
        return render_url_template(self._public_url or "http://{host}:{port}", host=host, port=self.port)

    def worker_base(self, worker_index: int) -> str:
        """What worker `worker_index` puts in its callback URLs instead of its own address."""
        return f"{self.public_url}/w/{worker_index}"

    def route(self, worker_index: int, receiver_url: str) -> None:
        """Callbacks for `worker_index` go to its receiver at `receiver_url` (from then on)."""
        previous = self._routes.get(worker_index)
        if previous is not None:
            if previous[0] == receiver_url:
                return
            previous[1].close()
        client = HTTPClient.from_url(
            URL(receiver_url),
            concurrency=64,
            connection_timeout=self.timeout_s,
            network_timeout=self.timeout_s,
        )
        self._routes[worker_index] = (receiver_url, client)

    def stats(self) -> dict[str, int]:
        return dict(sorted(self.counters.items()))

    # -- the HTTP side ------------------------------------------------------------------------------
    def _app(self, environ: dict, start_response) -> list[bytes]:
        verdict, status, content_type, body = self._forward(environ)
        self.counters[verdict] += 1
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:  # a status the standard library does not name
            reason = "Unknown"
        start_response(
            f"{status} {reason}", [("Content-Type", content_type), ("Content-Length", str(len(body)))]
        )
        return [body]

    def _forward(self, environ: dict) -> tuple[str, int, str, bytes]:
        if environ.get("REQUEST_METHOD") != "POST":
            return _own("bad_method", 405)
        match = _ROUTE.match(environ.get("PATH_INFO", ""))
        route = self._routes.get(int(match.group(1))) if match else None
        if match is None or route is None:
            return _own("unknown_worker", 404)
        try:
            declared = int(environ.get("CONTENT_LENGTH") or -1)
        except ValueError:
            declared = -1
        if declared > self.max_body_bytes:
            return _own("oversized", 413)
        raw = environ["wsgi.input"].read(declared if declared >= 0 else self.max_body_bytes + 1)
        if len(raw) > self.max_body_bytes:
            return _own("oversized", 413)
        base_url, client = route
        path = URL(base_url).path.rstrip("/") + match.group(2)
        headers = {"Content-Type": environ.get("CONTENT_TYPE") or "application/json"}
        for name, key in self._forward_headers:
            value = environ.get(key)
            if value is not None:
                headers[name] = value
        try:
            with gevent.Timeout(self.timeout_s):
                response = client.request("POST", path, body=raw, headers=headers)
                try:
                    content = response.read(_MAX_RESPONSE_BYTES)
                finally:
                    response.release()
        except (gevent.Timeout, OSError, ValueError, RuntimeError) as exc:
            reason = redact_callback_tokens(str(exc))
            log.warning(
                "could not forward a callback to worker %s at %s: %s", match.group(1), base_url, reason
            )
            return _own("forward_failed", 502)
        status = response.status_code
        verdict = "forwarded" if status < 300 else f"worker_{status}"
        return verdict, status, response.get("content-type") or "application/json", content


def _own(verdict: str, status: int) -> tuple[str, int, str, bytes]:
    """An answer of the forwarder itself, in the receiver's format."""
    return verdict, status, "application/json", json.dumps({"status": verdict}).encode()
