"""CSV next to the JSON: one row per conversation, for spreadsheets and quick greps."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from convoload.envsecrets import redact_value

CONVERSATIONS_CSV = "conversations.csv"
_COLUMNS = (
    "user_id",
    "session_id",
    "persona",
    "outcome",
    "goal_reached",
    "iterations",
    "total_time_ms",
    "stop_reason",
    "error_kind",
    "error_message",
    "prompt_tokens",
    "completion_tokens",
    "total_cost_usd",
    "started_at",
    "finished_at",
)


def write_conversations_csv(run_dir: Path, document: dict[str, Any]) -> Path:
    path = Path(run_dir) / CONVERSATIONS_CSV
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(_COLUMNS)
        for c in redact_value(document["conversations"]):  # a last guard: the records are redacted
            error = c.get("error") or {}
            writer.writerow(
                [
                    c["user_id"],
                    c["session_id"],
                    c["persona"],
                    c["outcome"],
                    c["goal_reached"],
                    c["iterations"],
                    c["total_time_ms"],
                    c.get("stop_reason") or "",
                    error.get("kind", ""),
                    error.get("message", ""),
                    c["tokens"]["prompt"],
                    c["tokens"]["completion"],
                    c["total_cost_usd"],
                    c["started_at"],
                    c.get("finished_at") or "",
                ]
            )
    tmp.replace(path)
    return path
