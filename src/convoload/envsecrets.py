"""Secrets come only from the environment (or a `.env` file) and never leave the process.

Every value read through `secret_from_env` is remembered so that `redact` can scrub it from any
text we print, log or write, in the forms a target (or a library) may echo it back in:

- as it is, and escaped the way JSON, Python's repr, shells and HTML escape text: each character
  that is not an ASCII letter, digit or one of `-._~` may appear as itself behind up to seven
  backslashes (`\\"`, `\\\\`, `\\/`, up to three levels of escaping), as `\\uXXXX` (UTF-16, either
  case of hex, also escaped again), as a JSON short escape (`\\n`), as an HTML entity (`&quot;`,
  `&#34;`, `&#x22;`), or percent-encoded (UTF-8 bytes, either case of hex; a space also as `+`);
  a double quote also doubled, as CSV writes it.
  That covers `json.dumps` with and without `ensure_ascii`, `urllib.parse.quote` and `quote_plus`
  with any `safe`, JavaScript's encodeURIComponent, and any mix of these;
- base64 (standard and URL-safe alphabets, with or without padding, its `+/=` escaped or
  percent-encoded as above) of the value alone, and of the value inside a longer base64-encoded
  text at any offset (HTTP Basic `user:secret`, `Bearer secret`): what is redacted there is the
  run of base64 characters that depend on the secret's bytes alone (the character at each end
  that mixes a few of its bits with the neighbouring bytes stays), when that run is at least 8
  characters long.

Not covered: other encodings (hex, base32, gzip), Unicode normalisation, and secrets split across
two texts. Values shorter than 4 characters are ignored (they would mangle ordinary text and are
not meaningful secrets).

Redaction is on every turn's path: the forms are compiled once into one regular expression,
rebuilt only when a new secret is read, and a text without any secret costs a few substring
searches (see `_Redactor`). Once a secret is known, log records of the whole process are
scrubbed as they are created.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from dotenv import load_dotenv
from pydantic_core import from_json, to_json

MIN_SECRET_LENGTH = 4
MASK = "***"
_MIN_BASE64_CORE = 8  # shorter runs of base64 characters could occur by chance in ordinary text
_SELECTIVE_RUN = 8  # letters and digits in a row that ordinary text rarely holds by chance
_MAX_ESCAPES = 7  # backslashes before an escaped character: up to three levels of escaping
_LONGEST_CHARACTER = 2 * (_MAX_ESCAPES + 5)  # what one character can match at most: an escaped surrogate pair
_UNRESERVED = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~")
_HTML_NAMES = {'"': ("quot",), "'": ("apos",), "&": ("amp",), "<": ("lt",), ">": ("gt",)}
_SHORT_ESCAPES = {"\b": "b", "\f": "f", "\n": "n", "\r": "r", "\t": "t"}

_known: set[str] = set()
_lock = threading.Lock()
_loaded_dotenv = False

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Redactor:
    """Everything needed to find the known secrets, built once per set of secrets.

    Every match of a form holds the form's runs of ASCII letters and digits as they are (only the
    other characters have escaped forms), so a text lacking them holds no secret: a few substring
    searches, several times faster than the expression's. A form with a long run is looked for by
    that run alone (`anchors`); one with only short runs (a secret full of punctuation) by all of
    them together (`anchor_sets`), since each alone (`ss`) is common in ordinary text.
    """

    pattern: re.Pattern[str]
    pattern_bytes: re.Pattern[bytes]
    anchors: tuple[str, ...]
    anchors_bytes: tuple[bytes, ...]
    anchor_sets: tuple[tuple[str, ...], ...]
    anchor_sets_bytes: tuple[tuple[bytes, ...], ...]
    anchored: bool  # False when some form has no letter or digit: then only the expression can tell
    longest_match: int  # an upper bound on the length of any match (see `redact_snippet`)

    def may_hold(self, text: str) -> bool:
        if not self.anchored or any(map(text.__contains__, self.anchors)):  # no Python frame per anchor
            return True
        return bool(self.anchor_sets) and any(all(map(text.__contains__, r)) for r in self.anchor_sets)

    def may_hold_bytes(self, data: bytes) -> bool:
        if not self.anchored or any(map(data.__contains__, self.anchors_bytes)):
            return True
        return bool(self.anchor_sets) and any(all(map(data.__contains__, r)) for r in self.anchor_sets_bytes)


# Swapped whole when a secret is added, so readers need no lock. None: no secret known.
_redactor: _Redactor | None = None


def load_env_files(*directories: Path) -> None:
    """Load `.env` from the current directory and the given ones; real env vars win."""
    global _loaded_dotenv
    candidates = [Path.cwd(), *directories]
    for directory in candidates:
        path = directory / ".env"
        if path.is_file():
            load_dotenv(path, override=False)
    _loaded_dotenv = True


def env_value(name: str) -> str | None:
    """Read an environment variable (or `.env`) that is not a secret, such as a user name."""
    if not _loaded_dotenv:
        load_env_files()
    return os.environ.get(name)


def secret_from_env(name: str) -> str | None:
    """Read an environment variable and remember its value as a secret."""
    if not _loaded_dotenv:
        load_env_files()
    value = os.environ.get(name)
    if value and value not in _known:  # called on every request render: the common case takes no lock
        _remember(value)
    return value


def redact(text: str) -> str:
    """Replace every known secret value in `text`, in any of the encodings above, with `***`."""
    redactor = _redactor
    if redactor is None or not text or not redactor.may_hold(text):
        return text
    return redactor.pattern.sub(MASK, text)


def redact_value(value: T) -> T:
    """`redact` applied to every string (keys too) of a JSON-like structure of dicts, lists and tuples.

    Returns `value` itself when it holds no secret; otherwise a redacted copy (the original, which
    may belong to someone else, is left as it is). Other objects are returned unchanged.
    """
    redactor = _redactor
    if redactor is None or not _mentions(value, redactor):
        return value
    return _scrubbed(value, redactor.pattern)


def redact_json(data: bytes) -> bytes:
    """Serialised JSON with every secret out of its strings; `data` itself when it holds none.

    A guard for outputs written as JSON text: the document is parsed and redacted value by value
    (a replacement in the text itself could cut through its structure), then serialised again.
    """
    redactor = _redactor
    if redactor is None or not redactor.may_hold_bytes(data) or redactor.pattern_bytes.search(data) is None:
        return data
    return to_json(redact_value(from_json(data)))


def redact_snippet(data: bytes, limit: int) -> str:
    """The first `limit` characters of `data` (UTF-8, bad bytes replaced), redacted.

    Redacted before cutting, over enough text that a secret across the cut is still recognised
    whole: cutting first would leave its beginning, which no longer matches.
    """
    redactor = _redactor
    margin = redactor.longest_match if redactor is not None else 0
    return redact(data[: limit + margin].decode("utf-8", "replace"))[:limit]


def _remember(value: str) -> None:
    global _redactor
    with _lock:
        if value in _known:
            return
        _known.add(value)
        secrets = [s for s in _known if len(s) >= MIN_SECRET_LENGTH]
        if not secrets:
            return
        # Longest first: at one position the alternation takes the first form that matches.
        forms = sorted({form for s in secrets for form in _forms(s)}, key=len, reverse=True)
        source = "|".join(_flexible(form) for form in forms)
        runs = [sorted(re.findall(r"[A-Za-z0-9]+", form), key=len, reverse=True) for form in forms]
        single = sorted({r[0] for r in runs if r and len(r[0]) >= _SELECTIVE_RUN}, key=len)
        # A text lacking an anchor lacks every anchor containing it.
        single = [a for i, a in enumerate(single) if not any(b in a for b in single[:i])]
        sets = list(dict.fromkeys(tuple(r) for r in runs if r and len(r[0]) < _SELECTIVE_RUN))
        _redactor = _Redactor(
            pattern=re.compile(source),
            pattern_bytes=re.compile(source.encode("utf-8")),
            anchors=tuple(single),
            anchors_bytes=tuple(a.encode("ascii") for a in single),
            anchor_sets=tuple(sets),
            anchor_sets_bytes=tuple(tuple(a.encode("ascii") for a in r) for r in sets),
            anchored=all(runs),
            longest_match=_LONGEST_CHARACTER * max(len(f) for f in forms),
        )
    _scrub_log_records()


def _forms(secret: str) -> list[str]:
    """The secret and its base64 encodings; each is then matched in every escaped form (`_flexible`)."""
    forms = [secret]
    raw = secret.encode("utf-8")
    for lead in range(3):  # the secret's offset in its first 3-byte group of a longer encoded text
        encoded = base64.b64encode(b"\0" * lead + raw).decode("ascii")
        standalone = [encoded, encoded.rstrip("=")] if lead == 0 else []
        # Characters whose 6 bits all come from the secret's bytes: k with 6k >= 8*lead and
        # 6k + 6 <= 8 * (lead + len(raw)).
        first = -(-8 * lead // 6)
        last = (8 * (lead + len(raw))) // 6
        core = encoded[first:last]
        cores = [core] if len(core) >= _MIN_BASE64_CORE else []
        for text in (*standalone, *cores):
            forms.append(text)
            forms.append(text.translate(_URLSAFE))
    return list(dict.fromkeys(forms))


_URLSAFE = str.maketrans("+/", "-_")


def _flexible(text: str) -> str:
    """A regular expression matching `text` as it is or escaped (see the module's docstring)."""
    return "".join(_atom(c) for c in text)


def _atom(char: str) -> str:
    if char in _UNRESERVED:
        return re.escape(char)
    plain = [re.escape(char), '""'] if char == '"' else [re.escape(char)]  # CSV doubles its quotes
    plain.extend(f"&{name};" for name in _HTML_NAMES.get(char, ()))
    if char in _HTML_NAMES:
        plain.append(f"&#0{{0,3}}{ord(char)};")
        plain.append(f"&#[xX]0{{0,3}}{_hex(format(ord(char), 'x'))};")
    escapes = rf"\\{{0,{_MAX_ESCAPES}}}"
    options = [f"{escapes}(?:{'|'.join(plain)})"]
    units = char.encode("utf-16-be")
    unicode_escape = "".join(
        rf"\\{{1,{_MAX_ESCAPES}}}u{_hex(units[i : i + 2].hex())}" for i in range(0, len(units), 2)
    )
    options.append(unicode_escape)
    if char in _SHORT_ESCAPES:
        options.append(rf"\\{{1,{_MAX_ESCAPES}}}{_SHORT_ESCAPES[char]}")
    options.append("".join(f"%{_hex(format(b, '02x'))}" for b in char.encode("utf-8")))
    if char == " ":
        options.append(r"\+")
    return f"(?:{'|'.join(options)})"


def _hex(digits: str) -> str:
    """Hexadecimal digits in either case."""
    return "".join(f"[{d.lower()}{d.upper()}]" if d.isalpha() else d for d in digits)


def _mentions(value: Any, redactor: _Redactor) -> bool:
    # One search over all the strings joined: a search per string cost three times as much. No
    # secret holds a NUL (environment values cannot), so no match spans two strings.
    joined = "\0".join(_strings(value, []))
    return redactor.may_hold(joined) and redactor.pattern.search(joined) is not None


def _strings(value: Any, out: list[str]) -> list[str]:
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            if isinstance(k, str):
                out.append(k)
            _strings(v, out)
    elif isinstance(value, list | tuple):
        for v in value:
            _strings(v, out)
    return out


def _scrubbed(value: Any, pattern: re.Pattern[str]) -> Any:
    if isinstance(value, str):
        return pattern.sub(MASK, value)
    if isinstance(value, dict):
        return {
            (pattern.sub(MASK, k) if isinstance(k, str) else k): _scrubbed(v, pattern)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_scrubbed(v, pattern) for v in value]
    if isinstance(value, tuple):
        return tuple(_scrubbed(v, pattern) for v in value)
    return value


_log_factory_installed = False


def _scrub_log_records() -> None:
    """From now on, every log record of the process is created with its secrets redacted.

    A record factory rather than a filter or a formatter: those belong to handlers, and the
    handlers that print our records (logging's last resort, Locust's, a user's) are not ours.
    """
    global _log_factory_installed
    with _lock:
        if _log_factory_installed:
            return
        _log_factory_installed = True
        create = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = create(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logging's to report, not ours
            return record
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[0] is not None:
            trace = logging.Formatter().formatException(record.exc_info)
            clean = redact(trace)
            if clean != trace:
                record.exc_text = clean
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return record

    logging.setLogRecordFactory(factory)
