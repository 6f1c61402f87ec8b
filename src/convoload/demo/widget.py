"""The widget webhook API as the bundled agents speak it: the inbound body, and the callback client."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Protocol
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

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
