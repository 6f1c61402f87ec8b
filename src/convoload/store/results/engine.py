"""Engines for the results store: SQLite (WAL, transactional DDL) or any SQLAlchemy URL such as Postgres."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from convoload.errors import ConfigError

DB_FILE_NAME = "results.sqlite"  # a run's default database, in its runs folder


class RawJSON(str):
    """JSON text already serialised (a journal line): a JSON column stores it as it is."""


def _json_serializer(value: Any) -> str:
    # Every finished conversation is serialised once, for the journal; the store reuses that text.
    return value if isinstance(value, RawJSON) else json.dumps(value)


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL, None for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    # Take transactions out of the driver's hands so that `begin` below is the only BEGIN: pysqlite
    # otherwise runs DDL outside any transaction, and migrations must be all-or-nothing.
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    # WAL + NORMAL: a commit survives the process being killed (the WAL is in the OS page cache),
    # without an fsync per finished conversation; only a power loss may lose the last commits.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN")


def _no_automatic_checkpoints(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.execute("PRAGMA wal_autocheckpoint=0")


def open_engine(url: str, *, create: bool = True, manual_checkpoints: bool = False) -> Engine:
    """An engine for `url`; a SQLite file (and its folder) is created unless `create` is False.

    `manual_checkpoints`: a SQLite file's connections never checkpoint its WAL on commit (a
    Checkpointer does it instead).
    """
    path = sqlite_path(url)
    if path is not None:
        if not path.exists():
            if not create:
                raise ConfigError(str(path), "", "no results database here (run a load test first)")
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, json_serializer=_json_serializer
        )
    elif make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(
            url, connect_args={"check_same_thread": False}, json_serializer=_json_serializer
        )
    else:
        return create_engine(url, pool_pre_ping=True, json_serializer=_json_serializer)
    event.listen(engine, "connect", _sqlite_connect)
    if manual_checkpoints and path is not None:
        event.listen(engine, "connect", _no_automatic_checkpoints)
    event.listen(engine, "begin", _sqlite_begin)
    return engine
