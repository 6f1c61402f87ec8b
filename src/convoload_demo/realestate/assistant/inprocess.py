"""The real-estate swarm as an in-process `python` target (`...assistant.inprocess:reply`).

Configured by environment: ``CONVOLOAD_CATALOG_URL`` (required). Built on first use, shared by all
sessions (the orchestrator is thread- and greenlet-safe).
"""

from __future__ import annotations

import os
import threading
from typing import Any

from convoload_demo.realestate.assistant.factory import build_orchestrator
from convoload_demo.realestate.assistant.settings import AssistantSettings
from convoload_demo.realestate.swarm import SwarmOrchestrator

CATALOG_URL_ENV = "CONVOLOAD_CATALOG_URL"

_lock = threading.Lock()
_swarm: SwarmOrchestrator | None = None


def orchestrator() -> SwarmOrchestrator:
    global _swarm
    with _lock:
        if _swarm is None:
            url = os.environ.get(CATALOG_URL_ENV)
            if not url:
                raise RuntimeError(f"set {CATALOG_URL_ENV} to the property catalog's base URL")
            _swarm = build_orchestrator(AssistantSettings(catalog_url=url))
        return _swarm


def reply(text: str, session: Any, iteration: int) -> dict[str, Any]:
    answer = orchestrator().reply(str(session.session_id), text)
    return {"text": answer.text, "agent": answer.agent}
