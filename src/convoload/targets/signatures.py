"""Signed callback bodies, the way messaging platforms sign their webhooks.

The signature header carries `{prefix}{hex HMAC}` computed with a shared secret over:
  - the raw body, without a timestamp header: WhatsApp Cloud API and GitHub
    (`X-Hub-Signature-256: sha256=<hex>`; GitHub's older `X-Hub-Signature: sha1=<hex>`);
  - `{version}:{timestamp}:{body}` with one: Slack (`X-Slack-Signature: v0=<hex>` over
    `v0:{X-Slack-Request-Timestamp}:{body}`). `version` is the prefix without its trailing `=`
    (`v0=` gives `v0`); with an empty prefix the signed bytes are `{timestamp}:{body}`. The timestamp
    (Unix seconds) must lie within the tolerance of our clock, so a captured callback cannot be
    replayed later.
The receiver verifies (`SignatureVerifier`); the bundled agents sign (`CallbackSigner`).
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from typing import Protocol


def environ_key(header: str) -> str:
    """Where a WSGI server puts a request header: `X-Hub-Signature-256` -> `HTTP_X_HUB_SIGNATURE_256`."""
    return "HTTP_" + header.upper().replace("-", "_")


class SignatureSettings(Protocol):
    """What a scheme is read from: `target.receiver.signature` in the config (SignatureConfig)."""

    @property
    def header(self) -> str: ...
    @property
    def algorithm(self) -> str: ...
    @property
    def prefix(self) -> str: ...
    @property
    def timestamp_header(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class SignatureScheme:
    header: str = "X-Hub-Signature-256"
    algorithm: str = "sha256"
    prefix: str = "sha256="
    timestamp_header: str | None = None

    @classmethod
    def of(cls, signature: SignatureSettings) -> SignatureScheme:
        return cls(signature.header, signature.algorithm, signature.prefix, signature.timestamp_header)

    def signed_bytes(self, body: bytes, timestamp: str | None) -> bytes:
        if self.timestamp_header is None:
            return body
        version = self.prefix.removesuffix("=")
        head = f"{version}:{timestamp}:" if version else f"{timestamp}:"
        return head.encode() + body

    def digest(self, secret: bytes, body: bytes, timestamp: str | None) -> str:
        return hmac.new(secret, self.signed_bytes(body, timestamp), self.algorithm).hexdigest()


class SignatureVerifier:
    """Checks one callback's signature (and timestamp) against the shared secret."""

    __slots__ = ("_header_key", "_prefix", "_scheme", "_secret", "_timestamp_key", "tolerance_s")

    def __init__(self, scheme: SignatureScheme, secret: str, tolerance_s: float = 300.0) -> None:
        self._scheme = scheme
        self._secret = secret.encode()
        self._prefix = scheme.prefix
        self._header_key = environ_key(scheme.header)
        self._timestamp_key = environ_key(scheme.timestamp_header) if scheme.timestamp_header else None
        self.tolerance_s = tolerance_s

    @property
    def headers(self) -> tuple[str, ...]:
        """The request headers a signature needs (what a forwarding proxy must pass on)."""
        return tuple(h for h in (self._scheme.header, self._scheme.timestamp_header) if h)

    def verify(self, environ: dict, body: bytes) -> bool:
        given = environ.get(self._header_key)
        if not given or not given.startswith(self._prefix):
            return False
        timestamp = None
        if self._timestamp_key is not None:
            timestamp = environ.get(self._timestamp_key, "")
            # Digits only, and few of them: int() of a long string is slow, of 4,300+ digits an error.
            if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
                return False
            if abs(time.time() - int(timestamp)) > self.tolerance_s:
                return False  # stale: a replay, or a clock far off
        expected = self._scheme.digest(self._secret, body, timestamp)
        received = given[len(self._prefix) :].strip().lower()
        # latin-1: header values arrive as latin-1 text; compare_digest refuses non-ASCII str.
        return hmac.compare_digest(received.encode("latin-1", "replace"), expected.encode())


class CallbackSigner:
    """What a bundled agent adds to each callback it sends, when asked to sign."""

    __slots__ = ("_scheme", "_secret")

    def __init__(self, scheme: SignatureScheme, secret: str) -> None:
        self._scheme = scheme
        self._secret = secret.encode()

    def headers(self, body: bytes) -> dict[str, str]:
        scheme = self._scheme
        timestamp = str(int(time.time())) if scheme.timestamp_header else None
        headers = {scheme.header: scheme.prefix + scheme.digest(self._secret, body, timestamp)}
        if scheme.timestamp_header and timestamp is not None:
            headers[scheme.timestamp_header] = timestamp
        return headers
