"""State of one faulty-target app: conversations seen, the fault plan, injections and callbacks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from convoload.targets.callback_tokens import redact_callback_tokens
from convoload_demo.faulty.plan import Api, Fault, FaultPlan
from convoload_demo.faulty.settings import FaultyServerSettings
from convoload_demo.turnlimit import AsyncTurnLimit
from convoload_demo.widget import callback_signer, loggable_url

log = logging.getLogger("convoload_demo.faulty")


@dataclass(slots=True)
class Turn:
    """Where one request falls: the conversation's arrival order, its message number, the fault drawn."""

    conversation: int
    turn: int
    fault: Fault | None


class FaultyRuntime:
    def __init__(self, settings: FaultyServerSettings) -> None:
        self.settings = settings
        self.signer = callback_signer(settings.signature)
        self.limit = AsyncTurnLimit(settings.max_concurrent_turns)
        self.client: httpx.AsyncClient | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.configure(settings.faults)

    def configure(self, faults: Sequence[Fault]) -> None:
        """A new plan, counted from scratch; callbacks still owed under the old plan are dropped."""
        for task in list(self.tasks):
            task.cancel()
        self.plan = FaultPlan(faults, seed=self.settings.seed)
        self.conversations: dict[str, int] = {}  # session -> arrival order (1-based)
        self.turns: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()
        self.injections: list[dict[str, Any]] = []
        self.callbacks: Counter[str] = Counter()  # answer status of every callback sent, or "error"
        self.release = asyncio.Event()  # set by flush: held (late) callbacks go out at once
        # Callback URLs seen, per session: the latest and the one before (what `forged` impostors reuse).
        self.webhooks: dict[str, str] = {}
        self.earlier_webhooks: dict[str, str] = {}

    def note_webhook(self, session_id: str, url: str) -> None:
        previous = self.webhooks.get(session_id)
        if previous is not None and previous != url:
            self.earlier_webhooks[session_id] = previous
        self.webhooks[session_id] = url

    def leaked_webhook(self, session_id: str, mode: str) -> str | None:
        """The URL a `forged` impostor of `mode` reuses: `stolen`, the latest of another conversation;
        `replay`, this conversation's previous one. None when there is none (yet)."""
        if mode == "replay":
            return self.earlier_webhooks.get(session_id)
        if mode == "stolen":
            for other in reversed(self.webhooks):
                if other != session_id:
                    return self.webhooks[other]
        return None

    def begin(self, api: Api, session_id: str) -> Turn:
        """Count the request and draw its fault (recorded as injected before anything is answered)."""
        self.requests[api] += 1
        conversation = self.conversations.setdefault(session_id, len(self.conversations) + 1)
        self.turns[session_id] += 1
        turn = self.turns[session_id]
        fault = self.plan.pick(api, conversation, turn, session_id)
        if fault is not None:
            self.injected[fault.kind] += 1
            self.injections.append(
                {
                    "kind": fault.kind,
                    "api": api,
                    "session_id": session_id,
                    "conversation": conversation,
                    "turn": turn,
                }
            )
        return Turn(conversation, turn, fault)

    async def think(self) -> None:
        """A turn's service time, in its place among at most `max_concurrent_turns` at once."""
        async with self.limit.turn():
            if self.settings.reply_delay_s > 0:
                await asyncio.sleep(self.settings.reply_delay_s)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)  # keep a reference: the loop only holds weak ones
        task.add_done_callback(self.tasks.discard)

    async def hold(self, seconds: float) -> None:
        """Wait `seconds`, or less when flush releases held callbacks."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.release.wait(), timeout=seconds)

    async def post(self, url: str, body: bytes) -> None:
        """Send one callback, once (a faulty sender does not retry), and count how it was answered."""
        assert self.client is not None
        headers = {"Content-Type": "application/json"}
        if self.signer is not None:
            headers.update(self.signer.headers(body))
        try:
            response = await self.client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            reason = redact_callback_tokens(f"{type(exc).__name__}: {exc}")  # it may quote the URL
            log.warning("callback to %s failed: %s", loggable_url(url), reason)
            self.callbacks["error"] += 1
            return
        self.callbacks[str(response.status_code)] += 1

    async def flush(self) -> None:
        """Release held callbacks and wait until every callback owed has been sent and answered."""
        self.release.set()
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    def stats(self) -> dict[str, Any]:
        return {
            "requests": dict(self.requests),
            "conversations": len(self.conversations),
            "injected": dict(sorted(self.injected.items())),
            "injections": list(self.injections),
            "callbacks": dict(sorted(self.callbacks.items())),
            "callbacks_owed": len(self.tasks),
        }
