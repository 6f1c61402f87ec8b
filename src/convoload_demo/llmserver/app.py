"""The FastAPI app: OpenAI chat completions on ``/v1`` plus admin endpoints for tests."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from convoload_demo.llmserver.errors import OpenAIError, error_body, invalid
from convoload_demo.llmserver.faults import ERROR_KINDS, fault_error, sim_fault_reply
from convoload_demo.llmserver.judge import judge_reply
from convoload_demo.llmserver.persona import persona_blocks
from convoload_demo.llmserver.replies import Reply, behaviour_reply, limit_length
from convoload_demo.llmserver.runtime import Runtime
from convoload_demo.llmserver.script import Script
from convoload_demo.llmserver.settings import LLMServerSettings
from convoload_demo.llmserver.tokens import prompt_tokens
from convoload_demo.llmserver.validation import ChatRequest, not_json, parse_json_body, validate_chat_request

__all__ = ["create_app"]

log = logging.getLogger("convoload_demo.llmserver")

# Cut mid-string on purpose: a 200 whose body no JSON parser accepts.
_MALFORMED_BODY = b'{"id": "chatcmpl-broken", "object": "chat.completion", "choices": [{"index": 0, "mess'
_UNPARSED = object()


def _error_response(exc: OpenAIError) -> JSONResponse:
    return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)


def _check_auth(request: Request, api_key: str | None) -> None:
    if api_key is None:
        return
    header = request.headers.get("authorization", "")
    if not header.strip():
        raise OpenAIError(
            401,
            "You didn't provide an API key. You need to provide your API key in an Authorization header "
            "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        )
    scheme, _, token = header.partition(" ")
    # compare_digest: no timing hints about the key, even on loopback.
    if scheme.lower() != "bearer" or not secrets.compare_digest(token.strip().encode(), api_key.encode()):
        raise OpenAIError(401, "Incorrect API key provided.", code="invalid_api_key")


def _log_entry(body: Any, request: Request) -> dict[str, Any]:
    """What the admin log keeps of a request: never the Authorization value, only its presence."""
    fields = body if isinstance(body, dict) else {}
    return {
        "model": fields.get("model"),
        "messages": fields.get("messages"),
        "tools": fields.get("tools"),
        "params": {k: v for k, v in fields.items() if k not in ("model", "messages", "tools")},
        "authorization": "authorization" in request.headers,
        "valid_json": body is not _UNPARSED,
        "status": None,
        "fault": None,
    }


def _usage(rt: Runtime, script: Script, request: ChatRequest, reply: Reply, reasoning: int) -> dict[str, Any]:
    prompt = prompt_tokens(request.messages)
    cached = rt.cached_tokens(request.model, request.messages)
    completion = reply.completion_tokens() + reasoning  # reasoning is billed as output, as at OpenAI
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }
    if script.cost_per_million is not None:
        usage["cost"] = script.cost_per_million.usd(prompt, cached, completion)  # OpenRouter's field
    return usage


def _completion(rt: Runtime, script: Script, request: ChatRequest, reply: Reply) -> JSONResponse:
    reasoning = script.reasoning_for(request.model)
    reply = limit_length(reply, request.max_tokens, reasoning)
    body = {
        "id": rt.new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.model,
        "system_fingerprint": "fp_convoload",
        "choices": [
            {"index": 0, "message": reply.message(), "logprobs": None, "finish_reason": reply.finish_reason}
        ],
        "usage": _usage(rt, script, request, reply, reasoning),
    }
    return JSONResponse(body, headers={"x-request-id": rt.new_id("req_")})


async def _complete(rt: Runtime, http_request: Request, body: Any, entry: dict[str, Any]) -> Response:
    _check_auth(http_request, rt.settings.api_key)
    if body is _UNPARSED:
        raise not_json()
    request = validate_chat_request(body)
    script = rt.script
    fault = rt.take_fault(request.model, request.tools is not None)
    entry["fault"] = fault.kind if fault else None
    await asyncio.sleep(rt.delay(script))
    if fault is not None and fault.kind in ERROR_KINDS:
        raise fault_error(fault)
    if fault is not None and fault.kind == "timeout":
        await asyncio.sleep(fault.seconds)  # the client should give up first; if not, answer normally
    if fault is not None and fault.kind == "malformed":
        return Response(_MALFORMED_BODY, media_type="application/json")
    if fault is not None and fault.kind == "bad_shape":
        return JSONResponse(
            {"id": rt.new_id("chatcmpl-"), "object": "chat.completion", "model": request.model}
        )
    if fault is not None and fault.kind == "empty":
        return _completion(rt, script, request, Reply(""))
    verdict = judge_reply(request, script)  # a judge request: the deterministic local judge answers
    if verdict is not None:
        return _completion(rt, script, request, verdict)
    behaviour = script.behaviour_of(request.model, bool(persona_blocks(request.messages)))
    reply = behaviour_reply(
        behaviour, request, script, next_canned=rt.next_canned, new_call_id=lambda: rt.new_id("call_")
    )
    if behaviour == "persona":  # settings.sim_fault: a simulator fault instead of the customer's line
        reply, entry["sim_fault"] = sim_fault_reply(rt, request.messages, reply)
    return _completion(rt, script, request, reply)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(OpenAIError)
    async def _openai_error(_: Request, exc: OpenAIError) -> JSONResponse:
        return _error_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = (
            f"Invalid URL ({request.method} {request.url.path})" if exc.status_code == 404 else exc.detail
        )
        return JSONResponse(error_body(str(message)), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _error_response(invalid(str(exc.errors()[0].get("msg", "invalid request"))))

    @app.exception_handler(Exception)
    async def _crash(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(error_body(f"Internal error: {exc!r}", "server_error"), status_code=500)


def create_app(settings: LLMServerSettings | None = None) -> FastAPI:
    """Build the local provider app; all state lives in this app instance."""
    settings = settings or LLMServerSettings()
    rt = Runtime(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.ready_url:
            print(f"READY {settings.ready_url}", flush=True)
        yield

    app = FastAPI(
        title="convoload local LLM provider",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.runtime = rt
    _install_error_handlers(app)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        try:
            body = parse_json_body(await request.body())
        except OpenAIError:
            body = _UNPARSED
        entry = rt.record(_log_entry(body, request))
        try:
            response = await _complete(rt, request, body, entry)
        except OpenAIError as exc:
            response = _error_response(exc)
        entry["status"] = response.status_code
        return response

    @app.get("/v1/models")
    async def models(request: Request) -> dict[str, Any]:
        _check_auth(request, settings.api_key)
        data = [
            {"id": name, "object": "model", "created": rt.created, "owned_by": "convoload"}
            for name in rt.script.model_names()
        ]
        return {"object": "list", "data": data}

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "requests": len(rt.requests())}

    @app.put("/admin/script")
    async def put_script(request: Request) -> dict[str, Any]:
        body = parse_json_body(await request.body())
        try:
            script = Script.model_validate(body)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'script'}: {e['msg']}" for e in exc.errors()
            )
            raise OpenAIError(422, f"Invalid script: {problems}", code="invalid_script") from None
        rt.set_script(script)
        return {"status": "ok", "script": script.model_dump(mode="json")}

    @app.get("/admin/script")
    async def get_script() -> dict[str, Any]:
        return {"script": rt.script.model_dump(mode="json"), "pending_faults": rt.pending_faults()}

    @app.get("/admin/requests")
    async def requests() -> dict[str, Any]:
        return {"requests": rt.requests()}

    @app.post("/admin/reset")
    async def reset() -> dict[str, str]:
        rt.reset()
        return {"status": "ok"}

    return app
