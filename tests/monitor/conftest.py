"""Fixtures for the monitor: the real-estate system as real processes, and a local alert receiver."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from convoload_demo.realestate.assistant.launcher import AssistantServer
from convoload_demo.realestate.assistant.settings import AssistantSettings
from convoload_demo.realestate.catalog.launcher import CatalogServer
from convoload_demo.realestate.catalog.settings import SANDBOX_RELEASE_S, CatalogSettings


@dataclass
class RealEstate:
    catalog: CatalogServer
    assistant: AssistantServer


@pytest.fixture
def realestate() -> Iterator[RealEstate]:
    with CatalogServer(CatalogSettings(listings=300, release_visits_after_s=SANDBOX_RELEASE_S)) as catalog:  # noqa: SIM117 - the assistant needs its URL
        with AssistantServer(AssistantSettings(catalog_url=catalog.url)) as assistant:
            yield RealEstate(catalog, assistant)


@dataclass
class Receiver:
    """An HTTP server that keeps every JSON body POSTed to it (an alert webhook's other end)."""

    url: str
    bodies: queue.Queue[dict[str, Any]] = field(default_factory=queue.Queue)

    def next(self, timeout: float = 90.0) -> dict[str, Any]:
        return self.bodies.get(timeout=timeout)


@pytest.fixture
def alert_receiver() -> Iterator[Receiver]:
    received: queue.Queue[dict[str, Any]] = queue.Queue()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            received.put(json.loads(self.rfile.read(length)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Receiver(f"http://127.0.0.1:{server.server_address[1]}/alerts", received)
    finally:
        server.shutdown()
        server.server_close()


def agent_config(folder: Path, chat_url: str) -> Path:
    """A convoload config for synthetic conversations with the assistant's chat API."""
    path = folder / "agent.yaml"
    config = {
        "personas": ["renata", "marcus"],
        "run": {"max_iterations": 14, "seed": 3},
        "goal": {"type": "regex", "pattern": "visita agendada|visit booked"},
        "target": {
            "type": "http",
            "url": chat_url,
            "reply_path": "reply",
            "agent_path": "agent",
            "timeout_s": 10,
            "body": {"session_id": "{session_id}", "message": "{text}"},
        },
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def monitor_config(folder: Path, system: RealEstate, **sections: Any) -> dict[str, Any]:
    """A monitor config watching `system` on a shortened schedule; `sections` replace its parts."""
    catalog, assistant = system.catalog.url, system.assistant.url
    config: dict[str, Any] = {
        "agent": str(agent_config(folder, assistant + "/api/chat")),
        "runs_dir": str(folder / "runs"),
        "window_s": 600,
        "components": [
            {"name": "agent", "url": assistant + "/health"},
            {"name": "catalog", "url": catalog + "/health"},
        ],
        "schedule": {
            "collect": {"every_s": 1, "conversations": 2, "concurrency": 2},
            "health": {"every_s": 1, "timeout_s": 5},
            "stress": {"enabled": False},
            "pipeline": {"enabled": False},
            "daily": {"enabled": False},
        },
        "dashboard": {"enabled": False},
        "logs": {"dir": str(folder / "logs")},
    }
    config.update(sections)
    return config
