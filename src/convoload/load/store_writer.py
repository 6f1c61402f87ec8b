"""Finished conversations into the results store in batches, away from the conversations' path.

Writing each conversation as it finishes would take two transactions and a second serialisation
of the record in the event loop every conversation shares: conversations ending together would
delay everyone's next turn. Here a conversation costs an append to a list; a greenlet writes
what has gathered every `interval_s` (or sooner when `max_batch` are waiting), reusing the
journal's JSON text, in transactions of `max_batch` conversations with the other greenlets
running between them, since a transaction holds the event loop for as long as it writes. Only a
writer that has fallen behind takes more (a tenth of its backlog, at most four times
`max_batch`), as each transaction has a fixed cost of about one conversation's rows. Between
transactions it waits for the loop to be idle, for at most `interval_s`; in a process that is never
idle (a saturated one) a backlog over `max_backlog` is written without waiting, so the queue, and
the memory its records hold, stays bounded and the store current.

The journal stays the record of truth and is written first, per conversation: a process killed
outright loses at most the last `interval_s` of database rows, which `convoload report <run>`
puts back from the journal. A database that fails is retried with the next batch, and given up
(with an error in the log; the journal has them) after `max_attempts`; it never stops the run.
"""

from __future__ import annotations

import logging

import gevent
from gevent.event import Event

from convoload.model import ConversationRecord
from convoload.store.results import RawJSON, ResultsStore

log = logging.getLogger(__name__)


class StoreWriter:
    def __init__(
        self,
        store: ResultsStore,
        run_id: str,
        *,
        interval_s: float = 0.2,
        max_batch: int = 5,
        max_backlog: int = 200,
        max_attempts: int = 3,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.interval_s = interval_s
        self.max_batch = max_batch
        self.max_backlog = max_backlog
        self.max_attempts = max_attempts
        self.written = 0
        self.dropped = 0
        self._pending: list[tuple[ConversationRecord, RawJSON | None]] = []
        self._attempts = 0
        self._wake = Event()
        self._greenlet: gevent.Greenlet | None = None
        self._closed = False

    def add(self, record: ConversationRecord, document: RawJSON | None = None) -> None:
        """Queue a finished conversation (`document`: its JSON text, when already serialised)."""
        if self._closed:
            raise ValueError("the store writer is closed")
        self._pending.append((record, document))
        if self._greenlet is None:
            self._greenlet = gevent.spawn(self._run)
        if len(self._pending) >= self.max_batch:
            self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def flush(self) -> None:
        """Write everything queued now, one batch after the other."""
        while self._pending:
            # Behind (a saturated process): larger transactions, as each has a fixed cost (begin, the
            # conversations' statement, commit) of about a conversation's rows; at most 4 x max_batch.
            size = min(max(self.max_batch, len(self._pending) // 10), 4 * self.max_batch)
            batch = self._pending[:size]
            del self._pending[: len(batch)]
            try:
                self.store.add_conversations(self.run_id, batch)
            except Exception:  # the store is a view: a database problem must not stop the run
                self._attempts += 1
                if self._attempts < self.max_attempts:
                    log.warning(
                        "results store: could not save %d conversations (attempt %d of %d); retrying",
                        len(batch),
                        self._attempts,
                        self.max_attempts,
                        exc_info=True,
                    )
                    self._pending[:0] = batch
                    return
                self._attempts = 0
                self.dropped += len(batch)
                log.exception(
                    "results store: gave up saving %d conversations of run %s; they are in its journal",
                    len(batch),
                    self.run_id,
                )
                continue
            self._attempts = 0
            self.written += len(batch)
            if self._pending:
                self._pause()

    def _pause(self) -> None:
        """Between slices of a long queue: let waiting replies be read first."""
        if len(self._pending) > self.max_backlog:
            gevent.sleep(0)  # falling behind: the loop is never idle, so keep pace with what finishes
            return
        with gevent.Timeout(self.interval_s, False):
            gevent.idle()

    def close(self) -> None:
        """Write what is left and stop the writing greenlet."""
        if self._closed:
            return
        self._closed = True
        if self._greenlet is not None:
            self._wake.set()
            self._greenlet.join()
        self._attempts = 0
        for _ in range(self.max_attempts):
            self.flush()
            if not self._pending:
                return

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self.interval_s)
            self._wake.clear()
            if not self._closed:
                self.flush()
