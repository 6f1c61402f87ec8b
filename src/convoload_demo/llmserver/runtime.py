"""Shared state of one server: script, request log, fault queue, prompt cache, canned cursors.

Handlers run on one event loop, but every method still takes a lock and never awaits while holding
it, so the state stays consistent even if a handler is ever moved to a worker thread.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

from convoload_demo.llmserver.faults import FaultQueue, SimFaults
from convoload_demo.llmserver.script import Fault, Script
from convoload_demo.llmserver.settings import LLMServerSettings
from convoload_demo.llmserver.tokens import PrefixCache

_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


class Runtime:
    def __init__(self, settings: LLMServerSettings) -> None:
        self.settings = settings
        self.created = int(time.time())
        self._lock = threading.Lock()
        self._script = settings.script
        self._faults = FaultQueue(self._script.faults)
        self._requests: list[dict[str, Any]] = []
        self._cache = PrefixCache()
        self._canned: dict[str, int] = {}
        self._rng = random.Random(settings.seed)
        self._sim_faults = SimFaults(settings.sim_fault, settings.sim_fault_on)

    # -- script --------------------------------------------------------------------------------------

    @property
    def script(self) -> Script:
        return self._script  # immutable; a request keeps the one it started with

    def set_script(self, script: Script) -> None:
        with self._lock:
            self._script = script
            self._faults = FaultQueue(script.faults)
            self._canned.clear()

    def reset(self) -> None:
        """Forget requests, pending faults, cached prefixes and canned positions; keep the script."""
        with self._lock:
            self._requests.clear()
            self._faults.clear()
            self._cache.clear()
            self._canned.clear()
            self._sim_faults.reset()

    def pending_faults(self) -> list[dict[str, Any]]:
        with self._lock:
            return self._faults.pending()

    # -- per request ---------------------------------------------------------------------------------

    def record(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Log a chat request; the caller fills in its outcome on the returned dict later."""
        with self._lock:
            entry["index"] = len(self._requests)
            self._requests.append(entry)
        return entry

    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(entry) for entry in self._requests]

    def take_fault(self, model: str, has_tools: bool) -> Fault | None:
        with self._lock:
            return self._faults.take(model, has_tools)

    def sim_fault(self, text: str, language: str) -> tuple[str, str | None]:
        """A persona answer as the settings' simulator fault makes it (see faults.SimFaults)."""
        with self._lock:
            return self._sim_faults.apply(text, language)

    def next_canned(self, model: str) -> str:
        with self._lock:
            replies = self._script.canned[model]
            position = self._canned.get(model, 0)
            self._canned[model] = position + 1
            return replies[position % len(replies)]

    def cached_tokens(self, model: str, messages: list[dict[str, Any]]) -> int:
        with self._lock:
            return self._cache.cached_tokens(model, messages)

    def delay(self, script: Script) -> float:
        latency = script.latency_s if script.latency_s is not None else self.settings.latency_s
        jitter = script.jitter_s if script.jitter_s is not None else self.settings.jitter_s
        with self._lock:
            offset = self._rng.uniform(-jitter, jitter) if jitter > 0 else 0.0
        return max(0.0, latency + offset)

    def new_id(self, prefix: str, length: int = 24) -> str:
        with self._lock:
            return prefix + "".join(self._rng.choice(_ALPHABET) for _ in range(length))
