"""CSV next to the JSON: one row per conversation, for spreadsheets and quick greps."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from convoload.envsecrets import redact_value
from convoload.model.report import RunReport

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


def write_conversations_csv(run_dir: Path, report: RunReport | Mapping[str, Any]) -> Path:
    path = Path(run_dir) / CONVERSATIONS_CSV
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(_COLUMNS)
        for c in RunReport.of(report).conversations:
            error = c.error
            writer.writerow(
                redact_value(  # a last guard: the records are redacted
                    [
                        c.user_id,
                        c.session_id,
                        c.persona,
                        c.outcome,
                        c.goal_reached,
                        c.iterations,
                        c.total_time_ms,
                        c.stop_reason or "",
                        error.kind if error else "",
                        error.message if error else "",
                        c.tokens.prompt,
                        c.tokens.completion,
                        c.total_cost_usd,
                        c.started_at,
                        c.finished_at or "",
                    ]
                )
            )
    tmp.replace(path)
    return path
