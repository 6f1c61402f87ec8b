"""Keep channel secrets (passwords, tokenised webhook URLs, auth headers) out of logs and error texts."""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import urlsplit

from convoload.envsecrets import redact

_secrets: set[str] = set()
_lock = threading.Lock()
_URL = re.compile(r"(https?://)([^/\s'\"<>@]+@)?([^/\s'\"<>]+)(/[^\s'\"<>]*)?")
_PUNCTUATION = ".,:;)"
_MIN_LEN = 4  # shorter values would mangle ordinary text and are not meaningful secrets
_MIN_TOKEN_PATH = 12


def remember(*values: str | None) -> None:
    with _lock:
        _secrets.update(v for v in values if v and len(v) >= _MIN_LEN)


def remember_url(url: str) -> None:
    """A webhook URL's path and query carry its token; remember them too, as libraries may print them alone.

    A short path ("/hook") holds no token, and scrubbing it would mangle unrelated URLs in shared logs.
    """
    parts = urlsplit(url)
    remember(url, parts.path if len(parts.path) >= _MIN_TOKEN_PATH else None, parts.query, parts.password)


def scrub_known(text: str) -> str:
    """Replace every remembered secret (and every env secret) with `***`."""
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for value in known:
        text = text.replace(value, "***")
    return redact(text)


def scrub(text: str) -> str:
    """For our own error texts: known secrets out, and paths cut off any URL (a token we never saw)."""
    return _URL.sub(_cut_path, scrub_known(text))


def _cut_path(match: re.Match[str]) -> str:
    scheme, _userinfo, host, path = match.groups(default="")  # user:password@ always goes
    kept = path.rstrip(_PUNCTUATION)
    if kept in ("", "/"):
        return f"{scheme}{host}{path}"
    return f"{scheme}{host}/***{path[len(kept) :]}"  # the sentence's punctuation stays


def safe_url(url: str) -> str:
    """Scheme, host and port only: enough to tell which endpoint failed."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid url>"
    return f"{parts.scheme}://{host}{port}/***"


class _ScrubFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logging's problem to report, not ours
            return True
        clean = scrub_known(message)  # only our secrets: other users of the logger keep their URLs
        if clean != message:
            record.msg, record.args = clean, None
        return True


def protect_logger(name: str) -> None:
    """httpx logs every request with its full URL at INFO: scrub that logger's records (once)."""
    target = logging.getLogger(name)
    if not any(isinstance(f, _ScrubFilter) for f in target.filters):
        target.addFilter(_ScrubFilter())
