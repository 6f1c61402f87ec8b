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
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from gevent.monkey import get_original

from convoload.envsecrets import redact, redact_json, redact_value
from convoload.model import ConversationRecord

log = logging.getLogger(__name__)

# The real thread primitives, also when gevent has patched these modules.
_start_new_thread, _allocate_lock = get_original("_thread", ["start_new_thread", "allocate_lock"])
_SimpleQueue = get_original("queue", "SimpleQueue")

JOURNAL_NAME = "journal.jsonl"
META_NAME = "run.json"
AGGREGATE_NAME = "aggregate.json"
CONVERSATIONS_DIR = "conversations"


class RunJournal:
    def __init__(self, run_dir: Path, meta: dict[str, Any] | None = None) -> None:
        self.run_dir = Path(run_dir)
        (self.run_dir / CONVERSATIONS_DIR).mkdir(parents=True, exist_ok=True)
        self.path = self.run_dir / JOURNAL_NAME
        self._conversations = str(self.run_dir / CONVERSATIONS_DIR)
        self._files = _FileWriter()
        self._lock = threading.Lock()
        # A plain descriptor: each line is one os.write, with no buffer in between to flush.
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        self.count = 0
        if meta is not None:
            write_json(self.run_dir / META_NAME, meta)

    def append(self, record: ConversationRecord) -> bytes:
        """Write the record's line (returned, with its newline, for others to reuse)."""
        # Compact JSON from pydantic-core (see `to_json`): at hundreds of conversations per second
        # this runs in the event loop every conversation shares.
        return self._append(record.to_json(), record)

    def append_line(self, line: bytes, record: ConversationRecord) -> bytes:
        """Write a line serialised elsewhere (a worker's journal line; `record` is parsed from it), as
        `append` writes its own; returns what was written."""
        return self._append(line.rstrip(b"\n"), record)

    def _append(self, data: bytes, record: ConversationRecord) -> bytes:
        # redact_json: a last guard (secrets are taken out of replies and errors as they come in).
        line = redact_json(data) + b"\n"
        with self._lock:
            if self._fd is None:
                raise ValueError("the journal is closed")
            _write_all(self._fd, line)
            self.count += 1
        # The same compact JSON as the journal line (pretty-print with `jq .`).
        name = f"conversation_{record.user_id:05d}_{record.session_id}.json"
        self._files.write(os.path.join(self._conversations, name), line)
        return line

    def close(self) -> None:
        self._files.close()  # every conversation's file is on disk when close returns
        with self._lock:
            if self._fd is not None:
                os.fsync(self._fd)
                os.close(self._fd)
                self._fd = None


class _FileWriter:
    """Writes the one-file-per-conversation copies from a native thread.

    Creating a file takes several system calls; in the event loop that time would hold every
    conversation's next turn. The calls release the GIL, so a native thread (even under
    gevent's monkey-patching) does them beside the loop. The files are a convenience copy of the
    journal line, which is written first and synchronously: a crash can lose only files that
    `convoload report` writes again from the journal.
    """

    def __init__(self) -> None:
        self._queue = _SimpleQueue()
        self._finished = _allocate_lock()
        self._finished.acquire()
        self._closed = False
        _start_new_thread(self._run, ())

    def write(self, path: str, data: bytes) -> None:
        self._queue.put((path, data))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._finished.acquire()  # a native wait: the queue is short by now

    def _run(self) -> None:
        try:
            while (item := self._queue.get()) is not None:
                try:
                    _write_bytes_atomic(*item)
                except OSError:
                    log.exception("could not write %s (the conversation is in the journal)", item[0])
        finally:
            self._finished.release()


def write_json(path: Path, document: Any) -> None:
    """Pretty JSON, atomically, without any known secret (run.json, aggregate.json)."""
    # Redacted value by value: a replacement in the JSON text could cut through its structure.
    _replace_atomically(path, json.dumps(redact_value(document), ensure_ascii=False, indent=2))


def write_json_streamed(path: Path, document: dict[str, Any], key: str, items: Iterable[Any]) -> None:
    """write_json of `document` with `items` as its `key`, written one item at a time: the same bytes
    as write_json would write, without the list in memory (a run's conversations, from its journal)."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        out.write("{")
        for i, (name, value) in enumerate(document.items()):
            out.write(("," if i else "") + "\n  " + json.dumps(name, ensure_ascii=False) + ": ")
            if name != key:
                out.write(_nested(json.dumps(redact_value(value), ensure_ascii=False, indent=2), "  "))
                continue
            first = True
            for item in items:
                out.write(("[" if first else ",") + "\n    ")
                out.write(_nested(json.dumps(redact_value(item), ensure_ascii=False, indent=2), "    "))
                first = False
            out.write("[]" if first else "\n  ]")
        out.write("\n}" if document else "}")
    os.replace(tmp, path)


def _nested(text: str, indent: str) -> str:
    """JSON text indented as json.dumps indents a value nested at `indent`."""
    return text.replace("\n", "\n" + indent)


def write_text_atomic(path: Path, text: str) -> None:
    """Write atomically (temp file + rename): a reader never sees half a file; known secrets redacted."""
    _replace_atomically(path, redact(text))


def _replace_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _write_bytes_atomic(path: str, data: bytes) -> None:
    """write_text_atomic for bytes with bare os calls: half the cost of pathlib's, once per conversation."""
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        _write_all(fd, data)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def journal_lines(path: Path) -> Iterator[tuple[ConversationRecord, bytes]]:
    """Each complete line of a journal (its bytes, newline included) with its record, in order, one line
    in memory at a time; a line that is no record (a crash's torn last line) is skipped, with a warning."""
    with Path(path).open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = ConversationRecord.from_document(json.loads(line))
            except (ValueError, KeyError, TypeError):
                log.warning("%s:%d: skipping an incomplete journal line", path, number)
                continue
            yield record, line


def read_journal(path: Path) -> list[ConversationRecord]:
    return [record for record, _ in journal_lines(path)]
