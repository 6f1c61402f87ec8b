"""Deterministic token estimates and simulated provider prompt caching.

Real tokenizers differ per model; tests need numbers they can recompute, so a token is 4 characters
(rounded up) of message content, plus a fixed framing overhead per prompt message.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD = 4


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def content_text(content: Any) -> str:
    """The text of a message ``content``: a string, a list of content parts, or null."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def message_tokens(message: dict[str, Any]) -> int:
    return estimate_tokens(content_text(message.get("content"))) + MESSAGE_OVERHEAD


def prompt_tokens(messages: Sequence[dict[str, Any]]) -> int:
    return sum(message_tokens(m) for m in messages)


def _prefix_hashes(messages: Sequence[dict[str, Any]]) -> list[str]:
    """Hash of every prefix ``messages[:k]`` (k >= 1), chained so each costs one message's hashing."""
    hashes, previous = [], b""
    for message in messages:
        canonical = json.dumps(message, sort_keys=True, ensure_ascii=False, default=str).encode()
        previous = hashlib.sha256(previous + canonical).digest()
        hashes.append(previous.hex())
    return hashes


class PrefixCache:
    """Bounded LRU of (model, prefix hash) standing in for a provider's prompt cache.

    Not thread-safe on its own: the runtime calls it under its lock.
    """

    def __init__(self, max_entries: int = 20_000) -> None:
        self.max_entries = max_entries
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()

    def cached_tokens(self, model: str, messages: Sequence[dict[str, Any]]) -> int:
        """Tokens of the longest whole-message prefix seen before for ``model``; then remember this one."""
        hashes = _prefix_hashes(messages)
        longest = 0
        for k, digest in enumerate(hashes, start=1):
            if (model, digest) in self._seen:
                longest = k
        for digest in hashes:
            key = (model, digest)
            self._seen[key] = None
            self._seen.move_to_end(key)
        while len(self._seen) > self.max_entries:
            self._seen.popitem(last=False)
        return prompt_tokens(messages[:longest])

    def clear(self) -> None:
        self._seen.clear()

    def __len__(self) -> int:
        return len(self._seen)
