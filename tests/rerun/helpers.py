"""What the rerun tests share: a tickets run with one failed conversation, and reading runs back."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from convoload.model import ConversationRecord
from convoload_demo.tickets.assistant import TicketAssistant
from tests.helpers import invoke, journal_lines, run_dirs, write

# Three conversations, one a persona (round robin, seed 7): Talliz needs 10 turns and misses the goal
# at 9; Kataryna and Edman pay after 8.
TICKETS = """
run:
  conversations: 3
  concurrency: 3
  seed: 7
  max_iterations: 9
  persona_assignment: round_robin
target:
  type: demo
  demo:
    agent: tickets
    reply_delay_s: 0
    jitter_s: 0
"""


def tickets_run(folder: Path) -> Path:
    """Run the TICKETS config into folder/runs; returns the run's folder."""
    config = write(folder / "tickets.yaml", TICKETS)
    ran = invoke("run", "-f", str(config), "--runs-dir", str(folder / "runs"))
    assert ran.returncode == 0, ran.stderr[-3000:]
    (run_dir,) = run_dirs(folder / "runs")
    return run_dir


def records(run_dir: Path) -> list[ConversationRecord]:
    return journal_lines(run_dir / "journal.jsonl")


def by_persona(run_dir: Path) -> dict[str, ConversationRecord]:
    return {r.persona: r for r in records(run_dir)}


def messages(record: ConversationRecord) -> list[str]:
    return [turn.user_text for turn in record.turns]


def new_runs(runs: Path, *old: Path) -> list[Path]:
    return [p for p in run_dirs(runs) if p not in old]


def run_json(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "run.json").read_text(encoding="utf-8"))


DETOUR = "Desculpe, não entendi. Pode repetir, por favor?"


class SwitchableAgent:
    """The ticket assistant over HTTP; with `detour` set it answers every session's third message with
    DETOUR instead (the agent "changed" between a run and its rerun)."""

    def __init__(self) -> None:
        self.assistant = TicketAssistant()
        self.detour = False
        self.seen: dict[str, int] = {}
        self.lock = threading.Lock()

    def __call__(self, environ, body):
        request = json.loads(body)
        with self.lock:
            count = self.seen[request["session_id"]] = self.seen.get(request["session_id"], 0) + 1
        if self.detour and count == 3:
            return 200, {"reply": DETOUR, "agent": "atendimento"}
        reply = self.assistant.reply(request["session_id"], request["text"])
        return 200, {"reply": "\n\n".join(reply.messages), "agent": reply.agent}
