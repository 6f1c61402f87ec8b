"""What http and webhook targets share: the client, the request and error classification."""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from typing import Any

import gevent
from geventhttpclient import HTTPClient
from geventhttpclient.url import URL
from pydantic_core import from_json, to_json

from convoload.envsecrets import redact_snippet
from convoload.model import ErrorKind
from convoload.targets.base import Session, TargetError
from convoload.targets.templating import UrlTemplate, compile_template, extract, is_static, reply_text

MAX_REPLY_BYTES = 4 * 1024 * 1024


class HttpEndpoint:
    """One URL of the agent under test, with a small HTTP client per conversation.

    The client is geventhttpclient, the engine of Locust's FastHttpUser: under
    gevent it costs much less CPU per request than httpx (benchmarks/README.md
    has the figures), and that CPU is what delays every other conversation
    sharing the process. One client per
    conversation is also what real traffic looks like: each customer has their
    own connection.
    """

    def __init__(
        self,
        url: str,
        method: str,
        headers: dict[str, Any],
        body: Any,
        *,
        timeout_s: float,
        connect_timeout_s: float,
        variables: dict[str, Any] | None = None,
    ) -> None:
        """`url` may hold placeholders (see UrlTemplate); `variables` are the target's."""
        template = UrlTemplate(url, variables, field="target.url")
        fixed = template.fixed_url
        self.url = URL(fixed or template.origin + "/")
        # Most URLs are the same for every request: their path is worked out once.
        self.request_uri = self.url.request_uri
        self._request_uri = None if fixed else template.request_uri
        self.method = method
        self.headers = headers
        self.body = body
        self._headers = compile_template(headers)
        # Most configs send the same headers every turn: rendered once, not per request.
        self._fixed_headers = self._render_headers({}) if is_static(headers) else None
        self._body = compile_template(body)
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        # One TLS context for all clients: loading the CA bundle per conversation costs milliseconds.
        self._ssl = ssl.create_default_context() if self.url.scheme == "https" else None
        self._address = _literal_address(self.url.host, self.url.port)
        self._clients: dict[str, tuple[HTTPClient, gevent.Timeout]] = {}

    def _render_headers(self, values: dict[str, Any]) -> dict[str, str]:
        headers = {str(k): str(v) for k, v in self._headers(values).items()}
        headers.setdefault("Content-Type", "application/json")
        return headers

    def _client(self, session_id: str) -> tuple[HTTPClient, gevent.Timeout]:
        """The conversation's client, and its request deadline (one timer, restarted per request)."""
        found = self._clients.get(session_id)
        if found is None:
            options: dict[str, Any] = {}
            if self._ssl is not None:
                options["ssl_context_factory"] = lambda *args, **kwargs: self._ssl
            client = HTTPClient.from_url(
                self.url,
                concurrency=1,
                connection_timeout=self.connect_timeout_s,
                network_timeout=self.timeout_s,
                **options,
            )
            if self._address is not None:
                # An IP address resolves to itself: skip the resolver, which gevent runs in a thread
                # pool (a thread hand-off for every conversation's first connection).
                address = self._address
                client._connection_pool._resolve = lambda: address
            found = self._clients[session_id] = (client, gevent.Timeout(self.timeout_s))
        return found

    def send(self, session_id: str, values: dict[str, Any]) -> tuple[int, bytes, float]:
        """POST the rendered template; returns status, body and elapsed ms. Transport faults raise."""
        headers = self._fixed_headers or self._render_headers(values)
        payload = to_json(self._body(values))  # compact UTF-8 JSON, several times faster than json.dumps
        request_uri = self.request_uri if self._request_uri is None else self._request_uri(values)
        return self.request(session_id, payload, headers, request_uri)

    def request(
        self,
        session_id: str,
        payload: bytes | None,
        headers: dict[str, str],
        request_uri: str | None = None,
        method: str | None = None,
    ) -> tuple[int, bytes, float]:
        """Send a body built by the caller (a platform's signed webhook); same faults as `send`."""
        client, deadline = self._client(session_id)
        request_uri = request_uri or self.request_uri
        started = time.perf_counter()
        deadline.start()
        try:
            response = client.request(method or self.method, request_uri, body=payload, headers=headers)
            try:
                declared = int(response.get("content-length") or 0)
                if declared > MAX_REPLY_BYTES:
                    raise TargetError(
                        ErrorKind.MALFORMED,
                        f"reply body of {declared} bytes is over the {MAX_REPLY_BYTES} byte limit",
                        status_code=response.status_code,
                    )
                content = response.read()
            finally:
                response.release()
        except gevent.Timeout as exc:
            if exc is not deadline:
                raise  # someone else's (the caller's own deadline, say)
            self.release(session_id)  # the connection may still carry the late answer
            raise TargetError(ErrorKind.TIMEOUT, f"no response within {self.timeout_s:g} s") from None
        except TimeoutError:
            self.release(session_id)
            raise TargetError(
                ErrorKind.TIMEOUT,
                f"no connection or response within the timeout ({self.connect_timeout_s:g} s to connect)",
            ) from None
        except (ConnectionRefusedError, socket.gaierror) as exc:
            self.release(session_id)
            raise TargetError(
                ErrorKind.CONNECTION,
                f"cannot connect to {self.url.host}:{self.url.port}: {exc.strerror or exc}",
            ) from None
        except TargetError:
            raise
        except (OSError, ValueError, RuntimeError, http.client.HTTPException) as exc:
            # Resets, broken pipes, a peer closing mid-response (geventhttpclient's HTTPParseError is an
            # HTTPException), unparsable HTTP.
            self.release(session_id)
            raise TargetError(
                ErrorKind.CONNECTION_LOST, f"connection broke: {type(exc).__name__}: {exc}"
            ) from None
        finally:
            deadline.cancel()
        elapsed_ms = (time.perf_counter() - started) * 1000
        if len(content) > MAX_REPLY_BYTES:
            raise TargetError(ErrorKind.MALFORMED, f"reply body is over the {MAX_REPLY_BYTES} byte limit")
        if response.status_code >= 400:
            snippet = redact_snippet(content, 200).replace("\n", " ")
            raise TargetError(
                ErrorKind.HTTP_STATUS,
                f"HTTP {response.status_code}: {snippet}",
                status_code=response.status_code,
                ack_ms=elapsed_ms,
            )
        return response.status_code, content, elapsed_ms

    def release(self, session_id: str) -> None:
        found = self._clients.pop(session_id, None)
        if found is not None:
            found[1].close()
            found[0].close()

    def close(self) -> None:
        for session_id in list(self._clients):
            self.release(session_id)


def _literal_address(host: str, port: int) -> list[tuple] | None:
    """getaddrinfo's answer for an IP-address host (no lookup involved), None for a name."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None
    # The arguments geventhttpclient's ConnectionPool resolves with.
    return socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM, socket.SOL_TCP)


def template_values(
    session: Session,
    text: str,
    iteration: int,
    webhook_url: str = "",
    variables: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        **(variables or {}),
        "text": text,
        "session_id": session.session_id,
        "iteration": iteration,
        "user_id": session.user_id,
        "persona": session.persona,
        "webhook_url": webhook_url,
        "identity": session.identity,
    }


def parse_json(content: bytes, what: str) -> Any:
    try:
        return from_json(content)  # what json.loads accepts, at a fraction of its cost (every reply)
    except (ValueError, UnicodeDecodeError):
        snippet = redact_snippet(content, 120).replace("\n", " ")
        raise TargetError(ErrorKind.MALFORMED, f"{what} is not valid JSON: {snippet!r}") from None


def extract_cost(document: Any, cost_path: str | None) -> float | None:
    """What a reply says the turn cost the agent (USD), at `cost_path`; None when it says nothing usable
    (an agent's accounting is optional: a missing or odd value never fails the turn)."""
    if not cost_path:
        return None
    try:
        found = extract(document, cost_path)
    except KeyError:
        return None
    if isinstance(found, str):
        try:
            found = float(found)
        except ValueError:
            return None
    if isinstance(found, bool) or not isinstance(found, int | float) or not 0 <= found < float("inf"):
        return None
    return float(found)


def extract_reply(
    document: Any, reply_path: str, agent_path: str | None, what: str
) -> tuple[list[str], str | None]:
    """Messages and agent name from a reply document; malformed or empty replies raise."""
    try:
        messages = reply_text(extract(document, reply_path))
    except KeyError:
        raise TargetError(ErrorKind.MALFORMED, f"{what} has no {reply_path!r}") from None
    if not messages:
        raise TargetError(ErrorKind.EMPTY, f"{what} has an empty {reply_path!r}")
    agent = None
    if agent_path:
        try:
            found = extract(document, agent_path)
            agent = str(found) if found not in (None, "") else None
        except KeyError:
            agent = None  # agent names are optional: absence is not a fault
    return messages, agent
