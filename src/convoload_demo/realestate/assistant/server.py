"""HTTP front-end of the real-estate swarm: ``POST /api/chat`` and ``GET /health``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, StringConstraints

from convoload_demo.realestate.assistant.factory import build_orchestrator
from convoload_demo.realestate.assistant.settings import AssistantSettings
from convoload_demo.realestate.swarm import SwarmOrchestrator, SwarmReply
from convoload_demo.turnlimit import ThreadTurnLimit

NonEmptyStr = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session_id: NonEmptyStr
    message: NonEmptyStr


def reply_json(reply: SwarmReply) -> dict[str, Any]:
    return {
        "reply": reply.text,
        "agent": reply.agent,
        "handoffs": [{"from": a, "to": b} for a, b in reply.handoffs],
        "tool_calls": list(reply.tool_calls),
        "events": [event.to_json() for event in reply.events],
    }


def create_app(settings: AssistantSettings, orchestrator: SwarmOrchestrator | None = None) -> FastAPI:
    swarm = orchestrator or build_orchestrator(settings)
    limit = ThreadTurnLimit(settings.max_concurrent_turns)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.ready_url:
            print(f"READY {settings.ready_url}", flush=True)  # the socket is already listening
        yield

    app = FastAPI(title="convoload real-estate assistant", version="1", lifespan=lifespan)

    # Plain `def` handlers: FastAPI runs them in its threadpool, so blocking catalog/LLM calls are fine.
    @app.post("/api/chat")
    def chat(body: ChatRequest) -> dict[str, Any]:
        with limit.turn():  # past the limit a turn waits in the queue, FIFO
            return reply_json(swarm.reply(body.session_id, body.message))

    @app.get("/health")
    def health() -> dict[str, Any]:
        check = getattr(swarm.catalog, "health", None)
        try:
            if check is not None:
                check()
            catalog = "ok"
        except Exception:
            catalog = "down"
        status = "ok" if catalog == "ok" else "degraded"
        return {"status": status, "catalog": catalog, "turns": limit.snapshot()}

    return app
