"""A run's aggregate files: aggregate.json, and the CSV next to it (one row per conversation, for
spreadsheets and quick greps). Both take the conversations as an iterable: a run's come from its
journal, one line at a time, however long the run. A judged run's CSV has two more columns, the judge's
verdict (from judgements.jsonl, read along)."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from convoload.envsecrets import redact_value
from convoload.model.report import ConversationSummary
from convoload.store.journal import AGGREGATE_NAME, write_json_streamed
from convoload.store.judgements import JudgementsBySession, iter_judgements

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
_JUDGE_COLUMNS = ("judge_passed", "judge_score")  # only in a judged run's CSV


def write_aggregate_files(
    run_dir: Path, document: dict[str, Any], conversations: Callable[[], Iterable[Mapping[str, Any]]]
) -> None:
    """aggregate.json (`document`, its list of conversations taken from `conversations()`) and
    conversations.csv (from a second `conversations()`)."""
    write_json_streamed(Path(run_dir) / AGGREGATE_NAME, document, "conversations", conversations())
    judged = document.get("judgement") is not None
    write_conversations_csv(run_dir, conversations(), judged=judged)


# How write_json_streamed (and json.dumps with indent=2) lays the list out: one line opens it, each
# item's last line is its closing brace at four spaces, one line closes the list.
_LIST_OPENS = '  "conversations": ['
_LIST_CLOSES = ("  ]", "  ],")
_ITEM_CLOSES = ("    }", "    },")


def read_aggregate_streamed(
    path: Path,
) -> tuple[dict[str, Any], Callable[[], Iterable[Mapping[str, Any]]]]:
    """aggregate.json as its document without the conversations (an empty list in their place) and a
    function that reads them from the file again, one at a time: to write the file anew (into a
    temporary file, then renamed) with a list of any length. A file laid out otherwise (not written
    by convoload) is read whole."""
    kept: list[str] = []
    with Path(path).open(encoding="utf-8") as handle:
        inside = False
        for line in handle:
            text = line.rstrip("\n")
            if inside:
                if text in _LIST_CLOSES:
                    inside = False
                    kept.append('  "conversations": []' + text[3:] + "\n")
                continue
            if text == _LIST_OPENS:
                inside = True
                continue
            kept.append(line)
    try:
        head = json.loads("".join(kept))
    except ValueError:
        head = None
    if not isinstance(head, dict):  # not our layout: read whole
        head = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(head, dict):
            raise ValueError(f"{path}: not a JSON object")
    items = head.get("conversations") or []
    if items:  # laid out otherwise: they are in memory already
        head["conversations"] = []
        return head, lambda: iter(items)
    return head, lambda: _streamed_conversations(Path(path))


def _streamed_conversations(path: Path) -> Iterator[Mapping[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        inside = False
        item: list[str] = []
        for line in handle:
            text = line.rstrip("\n")
            if not inside:
                inside = text == _LIST_OPENS
                continue
            if text in _LIST_CLOSES:
                return
            item.append(line)
            if text in _ITEM_CLOSES:
                yield json.loads("".join(item).rstrip().removesuffix(","))
                item = []


def write_conversations_csv(
    run_dir: Path, conversations: Iterable[ConversationSummary | Mapping[str, Any]], *, judged: bool = False
) -> Path:
    """`judged`: add judge_passed and judge_score (empty where the judge gave no verdict) from the
    run's judgements.jsonl; an unjudged run's CSV keeps its columns."""
    path = Path(run_dir) / CONVERSATIONS_CSV
    tmp = path.with_name(path.name + ".tmp")
    verdicts = JudgementsBySession(iter_judgements(run_dir)) if judged else None
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(_COLUMNS + _JUDGE_COLUMNS if judged else _COLUMNS)
        for item in conversations:
            c = item if isinstance(item, ConversationSummary) else ConversationSummary.model_validate(item)
            error = c.error
            judge: list[Any] = []
            if verdicts is not None:
                j = verdicts.get(c.session_id)
                passed = j.passed if j is not None else None
                score = j.score if j is not None else None
                judge = ["" if passed is None else passed, "" if score is None else score]
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
                        *judge,
                    ]
                )
            )
    tmp.replace(path)
    return path
