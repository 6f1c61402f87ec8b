"""A run's aggregate files: aggregate.json, and the CSV next to it (one row per conversation, for
spreadsheets and quick greps). Both take the conversations as an iterable: a run's come from its
journal, one line at a time, however long the run."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from convoload.envsecrets import redact_value
from convoload.model.report import ConversationSummary
from convoload.store.journal import AGGREGATE_NAME, write_json_streamed

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


def write_aggregate_files(
    run_dir: Path, document: dict[str, Any], conversations: Callable[[], Iterable[Mapping[str, Any]]]
) -> None:
    """aggregate.json (`document`, its list of conversations taken from `conversations()`) and
    conversations.csv (from a second `conversations()`)."""
    write_json_streamed(Path(run_dir) / AGGREGATE_NAME, document, "conversations", conversations())
    write_conversations_csv(run_dir, conversations())


def write_conversations_csv(
    run_dir: Path, conversations: Iterable[ConversationSummary | Mapping[str, Any]]
) -> Path:
    path = Path(run_dir) / CONVERSATIONS_CSV
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(_COLUMNS)
        for item in conversations:
            c = item if isinstance(item, ConversationSummary) else ConversationSummary.model_validate(item)
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
