"""The widget webhook API as the bundled agents speak it: the inbound body, and the callback client.

Callback URLs are capabilities (each opens one turn of one conversation): the agents log them with
the token masked (`loggable_url`). Asked to (`--sign`), they sign each callback's body the way
`target.receiver.signature` expects (`parse_signature`, `callback_signer`).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from convoload.config import SignatureConfig
from convoload.envsecrets import secret_from_env
from convoload.targets.signatures import CallbackSigner, SignatureScheme

NonEmptyStr = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class WidgetMessage(BaseModel):
    """What convoload's `widget` preset sends (camelCase on the wire)."""

    model_config = ConfigDict(populate_by_name=True)

    text: NonEmptyStr
    channel_id: NonEmptyStr = Field(alias="channelId")
    client_identifier: NonEmptyStr = Field(alias="clientIdentifier")
    webhook: NonEmptyStr

    @field_validator("webhook")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("webhook must be an absolute http:// or https:// URL")
        return value


class CallbackRuntime(Protocol):
    client: httpx.AsyncClient | None
    tasks: set[asyncio.Task[Any]]


@asynccontextmanager
async def callback_client(runtime: CallbackRuntime, timeout_s: float) -> AsyncIterator[None]:
    """Give `runtime` the client its callbacks go out with; at the end, cancel the ones still pending."""
    # trust_env=False: callbacks go to the URL given, never through an ambient HTTP proxy.
    # TCP_NODELAY: httpx writes headers and body separately, and without it the body waits for the
    # receiver's delayed ACK, so every callback arrives ~40 ms late.
    transport = httpx.AsyncHTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
    timeout = httpx.Timeout(timeout_s)
    async with httpx.AsyncClient(timeout=timeout, trust_env=False, transport=transport) as client:
        runtime.client = client
        try:
            yield
        finally:
            for task in list(runtime.tasks):
                task.cancel()
            await asyncio.gather(*runtime.tasks, return_exceptions=True)
            runtime.client = None


def loggable_url(url: str) -> str:
    """A callback URL fit for a log line: the path segment after `cb` (convoload's token), any query
    string and any user:password masked: `http://host/cb/***/session/2`."""
    parts = urlsplit(url)
    segments = parts.path.split("/")
    for index in range(len(segments) - 1):
        if segments[index] == "cb":
            segments[index + 1] = "***"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, netloc, "/".join(segments), "***" if parts.query else "", ""))


def parse_signature(text: str) -> SignatureConfig:
    """`--sign`: the fields of `target.receiver.signature`, as JSON or `key=value,...`
    (`secret_env=S,header=X-Slack-Signature,prefix=v0=,timestamp_header=X-Slack-Request-Timestamp`)."""
    text = text.strip()
    if text.startswith("{"):
        return SignatureConfig.model_validate_json(text)
    fields: dict[str, str] = {}
    for pair in (part.strip() for part in text.split(",") if part.strip()):
        key, sep, value = pair.partition("=")  # the first `=`: a prefix such as `v0=` keeps its own
        if not sep:
            raise ValueError(f"{pair!r}: expected key=value")
        fields[key.strip()] = value.strip()
    return SignatureConfig.model_validate(fields)


def callback_signer(signature: SignatureConfig | None) -> CallbackSigner | None:
    """What signs an agent's callbacks (the secret read from its environment), or None."""
    if signature is None:
        return None
    secret = secret_from_env(signature.secret_env)
    if not secret:
        raise ValueError(f"environment variable {signature.secret_env} is not set (the signing secret)")
    return CallbackSigner(SignatureScheme.of(signature), secret)
