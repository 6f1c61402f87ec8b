"""The emulated platform's REST API: a gevent WSGI server on which the bot under test makes its calls.

It is the bot's platform base URL (e.g. WhatsApp's graph URL). Each request becomes an `ApiRequest` for
the platform, whose `ApiResponse` goes back as it is; the platform correlates and wakes the waiting turn.
"""

from __future__ import annotations

import logging
from collections import Counter

from convoload.platforms.base import ApiRequest, ApiResponse, Platform
from convoload.targets.lean_wsgi import ConnectionLimits, LeanWSGIServer
from convoload.targets.receiver import render_url_template

log = logging.getLogger(__name__)

_REASONS = {
    200: "OK",
    201: "Created",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
}


class PlatformServer:
    def __init__(
        self,
        platform: Platform,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        public_url: str | None = None,
        max_body_bytes: int = 256 * 1024,
        limits: ConnectionLimits | None = None,
        worker_index: int | None = None,
    ) -> None:
        self.platform = platform
        self.host = host
        self.port = port
        self._public_url = public_url
        self.max_body_bytes = max_body_bytes
        self.limits = limits or ConnectionLimits()
        self.worker_index = worker_index
        self.counters: Counter[str] = Counter()  # the server's own: slow_client, overloaded
        self._server: LeanWSGIServer | None = None

    def start(self) -> PlatformServer:
        if self._server is None:
            # A deep listen queue: many conversations' bots answer at the same moment.
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
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(timeout=1)
            self._server = None

    @property
    def public_url(self) -> str:
        """The bot's platform base URL (where its API calls go)."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host
        template = self._public_url or "http://{host}:{port}"
        return render_url_template(template, host=host, port=self.port, worker_index=self.worker_index)

    def _app(self, environ: dict, start_response) -> list[bytes]:
        response = self._handle(environ)
        reason = _REASONS.get(response.status, "Error")
        start_response(
            f"{response.status} {reason}",
            [("Content-Type", response.content_type), ("Content-Length", str(len(response.body)))],
        )
        return [response.body]

    def _handle(self, environ: dict) -> ApiResponse:
        try:
            declared = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > self.max_body_bytes:
            return ApiResponse(413, b'{"error":{"message":"Request body too large","code":1}}')
        body = environ["wsgi.input"].read(declared) if declared > 0 else b""
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        request = ApiRequest(
            method=environ.get("REQUEST_METHOD", "GET"),
            path=environ.get("PATH_INFO", ""),
            query=environ.get("QUERY_STRING", ""),
            headers=headers,
            body=body,
        )
        try:
            return self.platform.handle_api(request)
        except Exception:  # a bug on our side must not take the server down; the bot sees a 500
            log.exception("platform %s failed on %s %s", self.platform.name, request.method, request.path)
            return ApiResponse(500, b'{"error":{"message":"An unexpected error has occurred.","code":2}}')
