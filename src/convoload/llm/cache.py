"""Record and replay of simulated-user LLM calls, in SQLite.

Key: (model, persona, the messages so far, parameters). Every answered call is
recorded; with replay on, a call whose key is already there is answered from
the cache, so a rerun of the same suite calls the LLM only where the
conversation diverges.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from convoload.llm.types import LLMResponse, TokenUsage

_SCHEMA = """
CREATE TABLE IF NOT EXISTS llm_calls (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    persona TEXT NOT NULL,
    text TEXT NOT NULL,
    provider TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cached_tokens INTEGER NOT NULL,
    reasoning_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
)
"""


def cache_key(model: str, persona: str, messages: list[dict[str, Any]], params: dict[str, Any]) -> str:
    canonical = json.dumps(
        {"model": model, "persona": persona, "messages": messages, "params": params},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class LLMCache:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One connection shared by the greenlets of this process; WAL lets other processes write too.
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)
        self._lock = threading.Lock()

    def get(self, key: str) -> LLMResponse | None:
        with self._lock:
            row = self._db.execute(
                "SELECT text, provider, model, prompt_tokens, completion_tokens, cached_tokens, "
                "reasoning_tokens, cost_usd FROM llm_calls WHERE key = ?",
                (key,),
            ).fetchone()
        if row is None:
            return None
        text, provider, model, prompt, completion, cached, reasoning, cost = row
        return LLMResponse(
            text=text,
            provider=provider,
            model=model,
            latency_ms=0.0,
            cost_usd=cost,
            usage=TokenUsage(prompt, completion, cached, reasoning),
            from_cache=True,
        )

    def put(self, key: str, persona: str, response: LLMResponse) -> None:
        u = response.usage
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO llm_calls (key, model, persona, text, provider, prompt_tokens, "
                "completion_tokens, cached_tokens, reasoning_tokens, cost_usd) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    response.model,
                    persona,
                    response.text,
                    response.provider,
                    u.prompt,
                    u.completion,
                    u.cached,
                    u.reasoning,
                    response.cost_usd,
                ),
            )

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM llm_calls").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
