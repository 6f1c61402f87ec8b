"""Callback URLs as capabilities: a token that opens one turn of one conversation, and nothing else.

A callback URL is `{base}/cb/{token}/{session_id}/{iteration}` with
  token = urlsafe-base64(HMAC-SHA256(run secret, "{session_id}/{iteration}"))[:22]  (128 bits)
so whoever learns one URL (the agent, a tunnel's or an ingress's log) can answer that turn only:
the token proves nothing for another conversation or another turn, and the run secret itself is
never in a URL. Tokens are redacted from everything we print or write (`redact_callback_tokens`).
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets

TOKEN_LENGTH = 22  # characters of urlsafe base64: 16 bytes of the HMAC

# A token after `cb/`, also when the slash arrives JSON-escaped (`cb\/`) or URL-encoded (`cb%2F`), and
# the start of one where a text was cut short (an error message's snippet of an agent's answer).
_TOKEN_CHAR = "[A-Za-z0-9_-]"
_TOKEN_IN_TEXT = re.compile(
    rf"(cb(?:/|\\/|%2[Ff]))"
    rf"(?:{_TOKEN_CHAR}{{{TOKEN_LENGTH}}}(?!{_TOKEN_CHAR})|{_TOKEN_CHAR}{{1,{TOKEN_LENGTH - 1}}}\Z)"
)
_TOKEN_IN_BYTES = re.compile(_TOKEN_IN_TEXT.pattern.encode())


class CallbackTokens:
    """Derives the token of each (session, turn) from one secret per receiver."""

    __slots__ = ("_key",)

    def __init__(self, secret: str | None = None) -> None:
        self._key = (secret or secrets.token_urlsafe(32)).encode()

    def token(self, session: bytes, iteration: bytes) -> bytes:
        """`session` and `iteration` as bytes, as they stand in the URL's path."""
        digest = hmac.digest(self._key, session + b"/" + iteration, "sha256")
        return base64.urlsafe_b64encode(digest[:16])[:TOKEN_LENGTH]

    def for_turn(self, session_id: str, iteration: int) -> bytes:
        return self.token(session_id.encode(), str(iteration).encode())


def redact_callback_tokens(text: str) -> str:
    """`text` with every callback token replaced by `***` (`.../cb/***/session/2`)."""
    if "cb" not in text:  # the common case, at the cost of one scan
        return text
    return _TOKEN_IN_TEXT.sub(r"\1***", text)


def redact_callback_tokens_in_bytes(data: bytes) -> bytes:
    if b"cb" not in data:
        return data
    return _TOKEN_IN_BYTES.sub(rb"\1***", data)
