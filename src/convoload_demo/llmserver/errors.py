"""Errors in the wire shape of OpenAI: ``{"error": {"message", "type", "param", "code"}}``."""

from __future__ import annotations

from typing import Any

INVALID_REQUEST = "invalid_request_error"


def error_body(
    message: str, type: str = INVALID_REQUEST, param: str | None = None, code: str | int | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


class OpenAIError(Exception):
    """An error answer; raised anywhere in request handling, rendered by the app's exception handler.

    ``body`` replaces the standard shape when a provider is mimicked that answers differently
    (OpenRouter omits ``type`` and ``param``).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = INVALID_REQUEST,
        param: str | None = None,
        code: str | int | None = None,
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.body = body if body is not None else error_body(message, type, param, code)


def invalid(message: str, param: str | None = None, code: str | None = None) -> OpenAIError:
    """400 ``invalid_request_error``, what OpenAI answers to every malformed request body."""
    return OpenAIError(400, message, param=param, code=code)
