"""WAL checkpoints of a SQLite results database from a native thread, not inside a commit.

SQLite checkpoints its write-ahead log on the commit that crosses 1,000 pages: that commit then
copies the log into the database and fsyncs it, a stall in which a load run's event loop (where
the commit runs) serves no conversation. A `Checkpointer` turns the automatic checkpoints off on
the store's connections (see open_engine) and runs a passive checkpoint every `interval_s` on its
own connection, from a real thread: SQLite releases the GIL while it works, and a passive
checkpoint never blocks the writer. Closing it checkpoints the whole log and empties it.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from gevent.monkey import get_original

log = logging.getLogger(__name__)

_start_new_thread, _allocate_lock = get_original("_thread", ["start_new_thread", "allocate_lock"])


class Checkpointer:
    def __init__(self, path: Path, interval_s: float = 1.0) -> None:
        self.path = path
        self.interval_s = interval_s
        self.checkpoints = 0
        self._stop = _allocate_lock()
        self._stop.acquire()  # released by close(): the thread's sleep ends early
        self._stopped = _allocate_lock()
        self._stopped.acquire()
        self._closed = False
        _start_new_thread(self._run, ())

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._stop.release()
            self._stopped.acquire()

    def _run(self) -> None:
        try:
            connection = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
            try:
                closing = False
                while not closing:
                    closing = self._stop.acquire(timeout=self.interval_s)
                    # Closing: the whole log into the database and the log emptied.
                    mode = "TRUNCATE" if closing else "PASSIVE"
                    try:
                        connection.execute(f"PRAGMA wal_checkpoint({mode})").fetchall()
                        self.checkpoints += 1
                    except sqlite3.Error:
                        log.warning("results store: WAL checkpoint of %s failed", self.path, exc_info=True)
            finally:
                connection.close()
        except sqlite3.Error:
            log.exception("results store: cannot checkpoint %s; its WAL grows until the run ends", self.path)
        finally:
            self._stopped.release()
