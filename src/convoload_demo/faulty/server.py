"""HTTP front-end of the faulty target: a chat API, a widget webhook API and the admin endpoints."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any
from uuid import uuid4

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AliasChoices, BaseModel, ConfigDict, Field
from starlette.types import Receive, Scope, Send

from convoload_demo.faulty.plan import Fault
from convoload_demo.faulty.replies import (
    AGENT,
    FORGED_TEXT,
    MALFORMED_BODY,
    callback_payload,
    forged_url,
    healthy_reply,
    split_reply,
)
from convoload_demo.faulty.runtime import FaultyRuntime, Turn
from convoload_demo.faulty.settings import FaultyServerSettings
from convoload_demo.widget import NonEmptyStr, WidgetMessage, callback_client

__all__ = ["create_app"]


class ChatRequest(BaseModel):
    session_id: NonEmptyStr
    message: NonEmptyStr = Field(validation_alias=AliasChoices("message", "text"))


class FaultList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    faults: list[Fault] = Field(default_factory=list)


class _DroppedResponse(Response):
    """Promises a body, sends a few bytes and stops: uvicorn then closes the connection mid-response."""

    def __init__(self) -> None:
        super().__init__()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"4096")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"reply": "', "more_body": True})


async def _stall(request: Request, seconds: float) -> None:
    """Hold the request until the client gives up (disconnects) or `seconds` pass."""

    async def disconnected() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    with suppress(TimeoutError):
        await asyncio.wait_for(disconnected(), timeout=seconds)


async def _ack_fault(request: Request, turn: Turn) -> Response | None:
    """The answer of a fault that hits the request itself (status, stall, drop); None for the others."""
    fault = turn.fault
    if fault is None:
        return None
    if fault.kind == "status":
        return JSONResponse({"error": f"injected fault: HTTP {fault.status}"}, status_code=fault.status)
    if fault.kind == "drop":
        return _DroppedResponse()
    if fault.kind == "stall":
        await _stall(request, fault.seconds)
        return JSONResponse({"error": "injected fault: stalled"}, status_code=504)
    return None


def _chat_reply(rt: FaultyRuntime, turn: Turn) -> Response:
    kind = turn.fault.kind if turn.fault else None
    if kind == "malformed":
        return Response(MALFORMED_BODY, media_type="application/json")
    if kind == "empty":
        return JSONResponse({"reply": "", "agent": AGENT})
    text = healthy_reply(turn.conversation, turn.turn, rt.settings.goal_turn)
    if kind == "oversized":
        assert turn.fault is not None
        text = text + " " + "x" * turn.fault.size_bytes
    if kind == "split":
        assert turn.fault is not None
        return JSONResponse({"reply": split_reply(text, turn.fault.parts), "agent": AGENT})
    return JSONResponse({"reply": text, "agent": AGENT})


async def _answer_widget(rt: FaultyRuntime, msg: WidgetMessage, ack_id: str, turn: Turn) -> None:
    """Send the turn's callback(s), faulty or not. Runs in the background after the 202."""
    fault = turn.fault
    kind = fault.kind if fault else None
    await rt.think()
    if kind == "no_callback":
        return
    text = healthy_reply(turn.conversation, turn.turn, rt.settings.goal_turn)
    if kind == "empty":
        text = ""
    elif kind == "oversized":
        assert fault is not None
        text = text + " " + "x" * fault.size_bytes
    ids = {"client_identifier": msg.client_identifier, "channel_id": msg.channel_id, "in_reply_to": ack_id}
    body = json.dumps(callback_payload(**ids, text=text)).encode()
    if kind == "malformed":
        body = MALFORMED_BODY
    if kind == "forged":
        assert fault is not None
        impostor = json.dumps(callback_payload(**ids, text=FORGED_TEXT)).encode()
        leaked = rt.leaked_webhook(msg.client_identifier, fault.mode)
        await rt.post(forged_url(msg.webhook, fault.mode, leaked), impostor)
        if fault.withhold:
            return
    if kind == "late":
        assert fault is not None
        await rt.hold(fault.seconds)
    if kind == "split":  # one callback per piece, in order; only the last one is final
        assert fault is not None
        pieces = split_reply(text, fault.parts)
        for index, piece in enumerate(pieces):
            payload = callback_payload(**ids, text=piece, final=index == len(pieces) - 1)
            await rt.post(msg.webhook, json.dumps(payload).encode())
        return
    copies = fault.copies if fault is not None and kind == "duplicate" else 1
    for _ in range(copies):  # one after the other, the way a sender retrying after a lost ack does
        await rt.post(msg.webhook, body)


def create_app(settings: FaultyServerSettings | None = None) -> FastAPI:
    """The faulty target; one conversation store and fault plan per app."""
    settings = settings or FaultyServerSettings()
    rt = FaultyRuntime(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with callback_client(rt, settings.callback_timeout_s):
            if settings.ready_url:
                print(f"READY {settings.ready_url}", flush=True)
            yield

    app = FastAPI(title="convoload faulty target", lifespan=lifespan)
    app.state.runtime = rt

    @app.post("/v1/chat")
    async def chat(req: ChatRequest, request: Request) -> Response:
        turn = rt.begin("chat", req.session_id)
        await rt.think()
        return await _ack_fault(request, turn) or _chat_reply(rt, turn)

    @app.post("/v1/webhooks/widget", status_code=202)
    async def widget(msg: WidgetMessage, request: Request) -> Response:
        turn = rt.begin("webhook", msg.client_identifier)
        rt.note_webhook(msg.client_identifier, msg.webhook)
        failed = await _ack_fault(request, turn)
        if failed is not None:
            return failed
        ack_id = str(uuid4())
        rt.spawn(_answer_widget(rt, msg, ack_id, turn))
        return JSONResponse({"status": "queued", "messageId": ack_id}, status_code=202)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "conversations": len(rt.conversations), "turns": rt.limit.snapshot()}

    @app.get("/admin/faults")
    async def get_faults() -> dict[str, Any]:
        return {"faults": [f.model_dump(mode="json") for f in rt.plan.faults]}

    @app.post("/admin/faults")
    async def set_faults(plan: FaultList) -> dict[str, Any]:
        rt.configure(plan.faults)
        return {"faults": [f.model_dump(mode="json") for f in rt.plan.faults]}

    @app.get("/admin/stats")
    async def stats() -> dict[str, Any]:
        return rt.stats()

    @app.post("/admin/flush")
    async def flush() -> dict[str, Any]:
        await rt.flush()
        return rt.stats()

    return app
