"""One OpenAI-compatible provider, called with the official `openai` SDK (sync: it runs in greenlets).

Retries are ours (the SDK's are off) so that the chain can honour Retry-After,
count attempts, and fall through to the next provider.
"""

from __future__ import annotations

import email.utils
import ipaddress
import json
import time
from typing import Any
from urllib.parse import urlsplit

import openai

from convoload.envsecrets import redact, secret_from_env
from convoload.llm.cost import Price, compute_cost
from convoload.llm.providers import ProviderSpec
from convoload.llm.tools import Tool, native_tools, parse_prompted_tool_call, with_prompted_tools
from convoload.llm.types import FailureKind, LLMResponse, ProviderError, TokenUsage, ToolCall


class ProviderClient:
    def __init__(self, spec: ProviderSpec, prices: dict[str, Price]) -> None:
        self.spec = spec
        # A price given for this provider wins over the table's price for its model.
        self.prices = {**prices, spec.model: Price(*spec.price)} if spec.price else prices
        self._key = secret_from_env(spec.api_key_env) if spec.api_key_env else None
        self._client = openai.OpenAI(
            base_url=spec.base_url,
            api_key=self._key or "not-needed",
            timeout=spec.timeout_s,
            max_retries=0,
            default_headers=spec.headers or None,
            # A proxy from the environment (HTTP_PROXY without NO_PROXY) cannot reach this machine's
            # loopback: sent there, every call to a local server fails or waits out its timeout.
            http_client=openai.DefaultHttpxClient(trust_env=False) if is_loopback(spec.base_url) else None,
        )

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def has_key(self) -> bool:
        return self.spec.api_key_env is None or bool(self._key)

    def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[Tool] | None = None,
        params: dict[str, Any] | None = None,
    ) -> LLMResponse:
        if not self.has_key:
            raise self._error(FailureKind.AUTH, f"{self.spec.api_key_env} is not set (environment or .env)")
        request: dict[str, Any] = {"model": self.spec.model, "messages": messages, **(params or {})}
        prompted = bool(tools) and not self.spec.native_tools
        if tools and self.spec.native_tools:
            request["tools"] = native_tools(tools)
        elif prompted:
            request["messages"] = with_prompted_tools(messages, tools or [])
        started = time.perf_counter()
        try:
            completion = self._client.chat.completions.create(**request)
        except openai.APITimeoutError:
            raise self._error(FailureKind.TIMEOUT, f"no answer within {self.spec.timeout_s:g} s") from None
        except openai.APIConnectionError as exc:
            raise self._error(FailureKind.CONNECTION, f"cannot reach {self.spec.base_url}: {exc}") from None
        except openai.APIStatusError as exc:
            raise self._status_error(exc) from None
        except (openai.APIResponseValidationError, json.JSONDecodeError, ValueError, TypeError) as exc:
            raise self._error(FailureKind.MALFORMED, f"not a chat completion: {type(exc).__name__}") from None
        latency_ms = (time.perf_counter() - started) * 1000
        if not getattr(completion, "choices", None):
            raise self._error(FailureKind.MALFORMED, "the response has no choices")
        message = completion.choices[0].message
        text = message.content or ""
        calls = [_native_call(c) for c in (message.tool_calls or [])]
        if prompted and not calls:
            call = parse_prompted_tool_call(text, tools or [])
            if call is not None:
                calls, text = [call], ""
        if not text.strip() and not calls:
            raise self._error(FailureKind.EMPTY, "the model returned an empty message")
        usage = _usage(completion)
        reported = getattr(completion.usage, "cost", None) if completion.usage is not None else None
        cost, source = compute_cost(
            usage, self.spec.model, free=self.spec.free, reported=reported, prices=self.prices
        )
        return LLMResponse(
            text=text,
            provider=self.spec.name,
            model=self.spec.model,
            usage=usage,
            cost_usd=cost,
            latency_ms=latency_ms,
            tool_calls=calls,
            cost_source=source,
        )

    def _status_error(self, exc: openai.APIStatusError) -> ProviderError:
        status = exc.status_code
        message = _error_message(exc)
        lowered = message.lower()
        if "support tool" in lowered or "does not support tools" in lowered:
            return self._error(FailureKind.TOOLS_UNSUPPORTED, message, status)
        if status == 429:
            return self._error(FailureKind.RATE_LIMITED, message, status, _retry_after(exc.response.headers))
        if status >= 500:
            return self._error(FailureKind.SERVER_ERROR, message, status, _retry_after(exc.response.headers))
        if status in (401, 403):
            return self._error(FailureKind.AUTH, message, status)
        return self._error(FailureKind.BAD_REQUEST, message, status)

    def _error(
        self, kind: FailureKind, message: str, status: int | None = None, retry_after_s: float | None = None
    ) -> ProviderError:
        return ProviderError(
            kind, redact(message)[:300], provider=self.spec.label, status=status, retry_after_s=retry_after_s
        )

    def close(self) -> None:
        self._client.close()


def is_loopback(url: str) -> bool:
    """Whether `url` names this machine's loopback (localhost, 127.0.0.0/8, ::1)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _native_call(call: Any) -> ToolCall:
    try:
        arguments = json.loads(call.function.arguments or "{}")
    except ValueError:
        raise ProviderError(
            FailureKind.MALFORMED, f"tool call {call.function.name!r} has arguments that are not valid JSON"
        ) from None
    if not isinstance(arguments, dict):
        raise ProviderError(
            FailureKind.MALFORMED, f"tool call {call.function.name!r} arguments are not an object"
        )
    return ToolCall(name=call.function.name, arguments=arguments, id=call.id)


def _usage(completion: Any) -> TokenUsage:
    usage = completion.usage
    if usage is None:
        return TokenUsage()
    prompt_details = getattr(usage, "prompt_tokens_details", None)
    completion_details = getattr(usage, "completion_tokens_details", None)
    return TokenUsage(
        prompt=usage.prompt_tokens or 0,
        completion=usage.completion_tokens or 0,
        cached=(getattr(prompt_details, "cached_tokens", None) or 0) if prompt_details else 0,
        reasoning=(getattr(completion_details, "reasoning_tokens", None) or 0) if completion_details else 0,
    )


def _error_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return f"HTTP {exc.status_code}: {inner['message']}"
        if isinstance(inner, str):
            return f"HTTP {exc.status_code}: {inner}"
    return f"HTTP {exc.status_code}: {exc.message}"


def _retry_after(headers: Any) -> float | None:
    """Retry-After as seconds or an HTTP date; OpenAI's retry-after-ms when present."""
    if headers is None:
        return None
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        when = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, when.timestamp() - time.time()) if when else None
