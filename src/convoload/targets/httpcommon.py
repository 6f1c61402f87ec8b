"""What http and webhook targets share: the client, the request and error classification."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from convoload.conversation.records import ErrorKind
from convoload.targets.base import Session, TargetError
from convoload.targets.templating import extract, render, reply_text


def make_client(timeout_s: float, connect_timeout_s: float) -> httpx.Client:
    # No pool cap: the load engine decides concurrency, the client must not queue behind it.
    return httpx.Client(
        timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=1000),
        follow_redirects=False,
        trust_env=False,
    )


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


def post(
    client: httpx.Client, method: str, url: str, headers: dict[str, Any], body: Any, values: dict[str, Any]
) -> tuple[httpx.Response, float]:
    """Send the rendered request; returns the response and the elapsed milliseconds."""
    rendered_headers = {str(k): str(v) for k, v in render(headers, values).items()}
    payload = render(body, values)
    started = time.perf_counter()
    try:
        response = client.request(method, url, json=payload, headers=rendered_headers)
    except httpx.TimeoutException as exc:
        raise TargetError(
            ErrorKind.TIMEOUT, f"no response within the timeout ({type(exc).__name__})"
        ) from None
    except httpx.ConnectError as exc:
        raise TargetError(ErrorKind.CONNECTION, f"cannot connect: {exc}") from None
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
        raise TargetError(ErrorKind.CONNECTION_LOST, f"connection broke: {exc}") from None
    elapsed_ms = (time.perf_counter() - started) * 1000
    if response.status_code >= 400:
        snippet = response.text[:200].replace("\n", " ")
        raise TargetError(
            ErrorKind.HTTP_STATUS,
            f"HTTP {response.status_code}: {snippet}",
            status_code=response.status_code,
            ack_ms=elapsed_ms,
        )
    return response, elapsed_ms


def parse_json(content: bytes, what: str) -> Any:
    try:
        return json.loads(content)
    except (ValueError, UnicodeDecodeError):
        snippet = content[:120].decode("utf-8", "replace").replace("\n", " ")
        raise TargetError(ErrorKind.MALFORMED, f"{what} is not valid JSON: {snippet!r}") from None


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
