"""The run journal: `runs/<run-id>/journal.jsonl`, one finished conversation per line.

Each line is written with a single write and flushed at once, so a crash (even
kill -9) loses no finished conversation; the aggregate can always be rebuilt
from it. A half-written last line (a crash mid-write) is skipped on reading.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from convoload.conversation.records import ConversationRecord

log = logging.getLogger(__name__)

JOURNAL_NAME = "journal.jsonl"
META_NAME = "run.json"
AGGREGATE_NAME = "aggregate.json"
CONVERSATIONS_DIR = "conversations"


class RunJournal:
    def __init__(self, run_dir: Path, meta: dict[str, Any] | None = None) -> None:
        self.run_dir = Path(run_dir)
        (self.run_dir / CONVERSATIONS_DIR).mkdir(parents=True, exist_ok=True)
        self.path = self.run_dir / JOURNAL_NAME
        self._lock = threading.Lock()
        self._file = self.path.open("a", encoding="utf-8")
        self.count = 0
        if meta is not None:
            write_json(self.run_dir / META_NAME, meta)

    def append(self, record: ConversationRecord) -> None:
        document = record.to_document()
        line = json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n"
        with self._lock:
            self._file.write(line)
            self._file.flush()
            self.count += 1
        # The same compact JSON as the journal line: serialising once matters at hundreds of
        # conversations per second (pretty-print with `jq .`).
        name = f"conversation_{record.user_id:05d}_{record.session_id}.json"
        write_text_atomic(self.run_dir / CONVERSATIONS_DIR / name, line)

    def close(self) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.flush()
                os.fsync(self._file.fileno())
                self._file.close()


def write_json(path: Path, document: Any) -> None:
    write_text_atomic(path, json.dumps(document, ensure_ascii=False, indent=2))


def write_text_atomic(path: Path, text: str) -> None:
    """Write atomically (temp file + rename): a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def read_journal(path: Path) -> list[ConversationRecord]:
    records: list[ConversationRecord] = []
    with Path(path).open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                records.append(ConversationRecord.from_document(json.loads(line)))
            except (ValueError, KeyError, TypeError):
                log.warning("%s:%d: skipping an incomplete journal line", path, number)
    return records
