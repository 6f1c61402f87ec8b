"""Token auth for a dashboard bound beyond loopback: Bearer header, or `?token=` once, then a cookie.

The cookie holds an HMAC of the token, not the token itself, so the browser never stores the secret;
every comparison is constant-time. Nothing here logs a request.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote, urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

COOKIE = "convoload_dashboard"
OPEN_PATHS = frozenset({"/health"})


def cookie_value(token: str) -> str:
    return hmac.new(token.encode(), b"convoload-dashboard-cookie", hashlib.sha256).hexdigest()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


class TokenAuth:
    """ASGI middleware: every HTTP route except /health needs the token."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token
        self.cookie = cookie_value(token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        response = self._check(request)
        if response is None:
            await self.app(scope, receive, send)
        else:
            await response(scope, receive, send)

    def _check(self, request: Request) -> Response | None:
        """None when the request may pass; otherwise the response to send instead."""
        if "token" in request.query_params:
            if not _same(request.query_params["token"], self.token):
                return _unauthorized()
            # Drop the token from the address bar (and history) right away; the cookie carries on.
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            target = same_origin_path(request.scope) + (f"?{urlencode(rest)}" if rest else "")
            redirect = RedirectResponse(target, status_code=303)
            redirect.set_cookie(
                COOKIE,
                self.cookie,
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
                path="/",
            )
            return redirect
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() == "bearer" and _same(given.strip(), self.token):
            return None
        cookie = request.cookies.get(COOKIE)
        if cookie is not None and _same(cookie, self.cookie):
            return None
        return _unauthorized()


def same_origin_path(scope: Scope) -> str:
    """The request's path as a redirect that cannot leave this host.

    Built from the raw (still percent-encoded) path, re-encoded so that no backslash, control or
    space character survives, with one leading slash: `//evil`, `/\\evil`, `/%2F%2Fevil` or an
    absolute-form target (`GET http://evil/ HTTP/1.1`) would otherwise send a browser to another host.
    """
    raw = scope.get("raw_path") or scope["path"].encode()
    if not raw.startswith(b"/"):  # absolute-form (RFC 9112 3.2.2): only its path is ours
        raw = urlsplit(raw).path
    path = quote(raw, safe="/%:@!$&'()*+,;=-._~")
    return "/" + path.lstrip("/")


def _unauthorized() -> Response:
    return JSONResponse(
        {"detail": "this dashboard needs its token: Authorization: Bearer <token>, or ?token=<token> once"},
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )
