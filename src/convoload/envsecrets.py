"""Secrets come only from the environment (or a `.env` file) and never leave the process.

Every value read through `secret_from_env` is remembered so that `redact` can
scrub it from any text we print, log or write (error details, reports).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from dotenv import load_dotenv

_known: set[str] = set()
_lock = threading.Lock()
_loaded_dotenv = False


def load_env_files(*directories: Path) -> None:
    """Load `.env` from the current directory and the given ones; real env vars win."""
    global _loaded_dotenv
    candidates = [Path.cwd(), *directories]
    for directory in candidates:
        path = directory / ".env"
        if path.is_file():
            load_dotenv(path, override=False)
    _loaded_dotenv = True


def secret_from_env(name: str) -> str | None:
    """Read an environment variable and remember its value as a secret."""
    if not _loaded_dotenv:
        load_env_files()
    value = os.environ.get(name)
    if value:
        with _lock:
            _known.add(value)
    return value


def redact(text: str) -> str:
    """Replace every known secret value in `text` with `***`."""
    if not _known or not text:
        return text
    for value in sorted(_known, key=len, reverse=True):
        # Very short values would mangle ordinary text and are not meaningful secrets.
        if len(value) >= 4 and value in text:
            text = text.replace(value, "***")
    return text
