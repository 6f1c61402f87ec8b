"""`python` target: an in-process callable, given as `module:function`.

The function receives (text, session, iteration) and returns a string, a list
of strings, or a mapping with `text` (str or list) and optionally `agent` and `cost_usd` (what the
agent's own LLM calls cost for this turn: counted in the cost per successful conversation).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from convoload.model import ErrorKind
from convoload.plugins import import_callable
from convoload.targets.base import Session, TargetError, TargetReply
from convoload.targets.templating import reply_text


class PythonTarget:
    kind = "python"

    def __init__(self, function: str | Callable[..., Any]) -> None:
        self.function = import_callable(function) if isinstance(function, str) else function

    def send(self, session: Session, text: str, iteration: int) -> TargetReply:
        started = time.perf_counter()
        try:
            result = self.function(text, session, iteration)
        except TimeoutError as exc:
            raise TargetError(ErrorKind.TIMEOUT, f"target timed out: {exc}") from None
        except ConnectionError as exc:
            raise TargetError(ErrorKind.CONNECTION, f"target connection failed: {exc}") from None
        except Exception as exc:
            raise TargetError(ErrorKind.TARGET_EXCEPTION, f"{type(exc).__name__}: {exc}") from None
        latency_ms = (time.perf_counter() - started) * 1000
        agent = None
        cost_usd: float | None = None
        if isinstance(result, Mapping):
            if "text" not in result:
                raise TargetError(ErrorKind.MALFORMED, "target returned a mapping without 'text'")
            agent = result.get("agent")
            cost = result.get("cost_usd")
            if isinstance(cost, int | float) and not isinstance(cost, bool) and cost >= 0:
                cost_usd = float(cost)
            result = result["text"]
        if not isinstance(result, str | list) and result is not None:
            raise TargetError(ErrorKind.MALFORMED, f"target returned {type(result).__name__}, not text")
        messages = reply_text(result)
        if not messages:
            raise TargetError(ErrorKind.EMPTY, "target returned an empty reply")
        return TargetReply(
            text="\n\n".join(messages),
            messages=messages,
            agent=agent,
            latency_ms=latency_ms,
            cost_usd=cost_usd,
            raw=result,
        )

    def stats(self) -> dict[str, int]:
        return {}

    def finish(self, session: Session) -> None:
        pass

    def close(self) -> None:
        pass
