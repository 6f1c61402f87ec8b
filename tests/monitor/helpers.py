"""What the monitor tests share: the real-estate system a fixture starts, an alert webhook's other end, and
the configs that watch the system on a shortened schedule."""

from __future__ import annotations

import queue
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from convoload_demo.realestate.assistant.launcher import AssistantServer
from convoload_demo.realestate.catalog.launcher import CatalogServer


@dataclass
class RealEstate:
    """The real-estate system as real processes (fixture `realestate`)."""

    catalog: CatalogServer
    assistant: AssistantServer


@dataclass
class Receiver:
    """An HTTP server that keeps every JSON body POSTed to it (an alert webhook's other end)."""

    url: str
    bodies: queue.Queue[dict[str, Any]] = field(default_factory=queue.Queue)

    def next(self, timeout: float = 90.0) -> dict[str, Any]:
        return self.bodies.get(timeout=timeout)


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
