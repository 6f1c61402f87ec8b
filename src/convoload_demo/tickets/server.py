"""HTTP front-end of the demo ticket assistant: a widget webhook API and a plain chat endpoint.

``POST /v1/webhooks/widget`` acknowledges at once (202) and later POSTs the reply to the caller's
webhook, like real chat-widget platforms do; ``POST /v1/chat`` answers synchronously. With a
`signature` setting (``--sign``) each callback is signed the way convoload's receiver checks it;
callback URLs are logged with their token masked.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import httpx
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from convoload.targets.callback_tokens import redact_callback_tokens
from convoload_demo.tickets.assistant import AssistantReply, TicketAssistant
from convoload_demo.tickets.settings import TicketServerSettings
from convoload_demo.turnlimit import AsyncTurnLimit
from convoload_demo.widget import NonEmptyStr, WidgetMessage, callback_client, callback_signer, loggable_url

__all__ = ["ChatRequest", "TicketServerSettings", "WidgetMessage", "create_app"]

log = logging.getLogger("convoload_demo.tickets")

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class ChatRequest(BaseModel):
    """Body of the synchronous chat endpoint."""

    session_id: NonEmptyStr
    text: NonEmptyStr


class _BodyLimit:
    """Reject request bodies larger than ``max_bytes`` with 413, without buffering more than that."""

    _DRAIN_LIMIT = 1_000_000  # read (and drop) at most this much so the client sees the 413

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._drain(receive, 0)
            await self._reject(scope, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_bytes:
                if message.get("more_body", False):
                    await self._drain(receive, size)
                await self._reject(scope, send)
                return
            chunks.append(body)
            more = message.get("more_body", False)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _drain(self, receive: Receive, seen: int) -> None:
        while seen < self._DRAIN_LIMIT:
            message = await receive()
            if message["type"] != "http.request":
                return
            seen += len(message.get("body", b""))
            if not message.get("more_body", False):
                return

    async def _reject(self, scope: Scope, send: Send) -> None:
        response = JSONResponse(
            {"detail": f"request body too large (limit is {self.max_bytes} bytes)"}, status_code=413
        )
        await response(scope, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Runtime:
    """Shared state of one app instance: assistant, HTTP client, per-client ordering, tasks."""

    def __init__(self, settings: TicketServerSettings) -> None:
        closed = set(settings.closed_dates) if settings.closed_dates is not None else None
        self.settings = settings
        self.assistant = TicketAssistant(closed_dates=closed, season_year=settings.season_year)
        self.rng = random.Random(settings.seed)
        self.signer = callback_signer(settings.signature)
        self.limit = AsyncTurnLimit(settings.max_concurrent_turns)
        self.client: httpx.AsyncClient | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self._turns: dict[str, tuple[asyncio.Lock, int]] = {}

    def delay(self) -> float:
        s = self.settings
        jitter = self.rng.uniform(-s.jitter_s, s.jitter_s) if s.jitter_s > 0 else 0.0
        return max(0.0, s.reply_delay_s + jitter)

    @asynccontextmanager
    async def client_turn(self, key: str) -> AsyncIterator[None]:
        """Serialise work per client, FIFO; the lock is dropped once nobody waits for it."""
        lock, users = self._turns.get(key, (asyncio.Lock(), 0))
        self._turns[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._turns[key]
            if users <= 1:
                del self._turns[key]
            else:
                self._turns[key] = (lock, users - 1)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)  # keep a reference: the loop only holds weak ones
        task.add_done_callback(self.tasks.discard)

    async def think(self, key: str, text: str) -> AssistantReply:
        async with self.limit.turn():  # past the limit a turn waits its place: the delay is the service time
            await asyncio.sleep(self.delay())
            return self.assistant.reply(key, text)

    async def answer_widget(self, msg: WidgetMessage, ack_id: str) -> None:
        try:
            async with self.client_turn(msg.client_identifier):
                reply = await self.think(msg.client_identifier, msg.text)
                parts = reply.messages if self.settings.split_messages else [reply.text]
                for index, part in enumerate(parts):
                    payload = {
                        "clientIdentifier": msg.client_identifier,
                        "channelId": msg.channel_id,
                        "messageId": str(uuid4()),
                        "inReplyTo": ack_id,
                        "text": part,
                        "agent": reply.agent,
                        "final": index == len(parts) - 1,
                        "createdAt": _now_iso(),
                    }
                    await self.deliver(msg.webhook, payload)
        except asyncio.CancelledError:
            raise
        except Exception:  # a background task must never take the server down
            log.exception("failed to answer widget message %s", ack_id)

    async def deliver(self, url: str, payload: dict[str, Any]) -> bool:
        """POST one callback, retrying transport errors and 429/5xx with a short backoff.

        The URL is a capability for one turn: logged only as `loggable_url` shows it.
        """
        assert self.client is not None
        body = json.dumps(payload).encode()
        shown = loggable_url(url)
        waits = (0.0, *self.settings.retry_backoff_s)
        for attempt, wait in enumerate(waits, start=1):
            if wait:
                await asyncio.sleep(wait)
            headers = {"Content-Type": "application/json"}
            if self.signer is not None:  # signed per attempt: a timestamped signature must be fresh
                headers.update(self.signer.headers(body))
            try:
                response = await self.client.post(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                reason = redact_callback_tokens(f"{type(exc).__name__}: {exc}")  # it may quote the URL
                log.warning("callback to %s failed (attempt %d): %s", shown, attempt, reason)
                continue
            if response.status_code < 400:
                return True
            if response.status_code != 429 and response.status_code < 500:
                log.warning("callback to %s rejected with HTTP %d; dropping", shown, response.status_code)
                return False
            log.warning("callback to %s got HTTP %d (attempt %d)", shown, response.status_code, attempt)
        log.error("dropping callback %s to %s after %d attempts", payload["messageId"], shown, len(waits))
        return False


def _validation_message(errors: list[dict[str, Any]]) -> str:
    parts = []
    for error in errors:
        loc = [str(p) for p in error.get("loc", ()) if p != "body"]
        parts.append(f"{'.'.join(loc) or 'body'}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)


def create_app(settings: TicketServerSettings | None = None) -> FastAPI:
    """Build the demo server app; one assistant (and conversation store) per app."""
    settings = settings or TicketServerSettings()
    rt = _Runtime(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with callback_client(rt, settings.callback_timeout_s):
            if settings.ready_url:
                print(f"READY {settings.ready_url}", flush=True)
            yield

    app = FastAPI(title="convoload demo ticket assistant", lifespan=lifespan)
    app.state.runtime = rt
    app.add_middleware(_BodyLimit, max_bytes=settings.max_body_bytes)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = jsonable_encoder(exc.errors())
        return JSONResponse({"message": _validation_message(errors), "detail": errors}, status_code=422)

    @app.post("/v1/webhooks/widget", status_code=202)
    async def widget(msg: WidgetMessage) -> dict[str, str]:
        ack_id = str(uuid4())
        rt.spawn(rt.answer_widget(msg, ack_id))
        return {"status": "queued", "messageId": ack_id}

    @app.post("/v1/chat")
    async def chat(req: ChatRequest) -> dict[str, Any]:
        async with rt.client_turn(req.session_id):
            reply = await rt.think(req.session_id, req.text)
        return {"reply": reply.text, "messages": reply.messages, "agent": reply.agent, "done": reply.done}

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "sessions": rt.assistant.session_count, "turns": rt.limit.snapshot()}

    return app
