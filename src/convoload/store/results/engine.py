"""Engines for the results store: SQLite (WAL, transactional DDL) or any SQLAlchemy URL such as Postgres."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from convoload.errors import ConfigError, StoreError

DB_FILE_NAME = "results.sqlite"  # a run's default database, in its runs folder
ENV_DB_URL = "CONVOLOAD_DB_URL"
URL_EXAMPLES = "e.g. sqlite:///runs/results.sqlite or postgresql+psycopg://user@host/db"


@dataclass(frozen=True, slots=True)
class StoreOrigin:
    """Where a results-store URL came from, so that an error about it names that place.

    `source` is a flag (`--db`), a variable (`CONVOLOAD_DB_URL`) or a config file; `field` the key in it.
    """

    source: str = "results store"
    field: str = ""

    def error(self, message: str) -> ConfigError:
        return ConfigError(self.source, self.field, message)


ENV_ORIGIN = StoreOrigin(ENV_DB_URL)


def default_store_url(runs_dir: Path) -> str:
    """The results database a runs folder holds: `sqlite:///<runs_dir>/results.sqlite` (absolute)."""
    return f"sqlite:///{Path(runs_dir).absolute() / DB_FILE_NAME}"


def resolve_store_url(
    explicit: str | None,
    origin: StoreOrigin,
    *,
    runs_dir: Path,
    default_origin: StoreOrigin = StoreOrigin(),
    check: bool = False,
) -> tuple[str, StoreOrigin]:
    """Which results store a command uses, and where that choice came from; the only place that decides.

    The URL given explicitly (`--db`, a config's `store.url`, the monitor's `store_url`; its place is
    `origin`), else $CONVOLOAD_DB_URL, else the runs folder's database (`default_store_url`). `check`:
    a URL that cannot be used is a one-line ConfigError naming where it came from.
    """
    from_env = os.environ.get(ENV_DB_URL)
    if explicit:
        url, where = explicit, origin
    elif from_env:
        url, where = from_env, ENV_ORIGIN
    else:
        url, where = default_store_url(runs_dir), default_origin
    if check:
        try:
            check_store_url(url)
        except ValueError as exc:
            raise where.error(str(exc)) from None
    return url, where


class MissingDatabase(ConfigError, StoreError):
    """`create=False` and there is no SQLite file at the URL's path."""


def check_store_url(url: str, *, create: bool = True) -> URL:
    """What can be told about a results-store URL without connecting; ValueError says what is wrong.

    The URL must parse, its driver must be installed, and a SQLite file (or the folder it would be
    created in) must be writable, so that a bad URL fails before a run starts, not after it ran.
    """
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError(f"not a database URL ({URL_EXAMPLES})") from None
    try:
        dialect = parsed.get_dialect()
    except ArgumentError:  # NoSuchModuleError: a dialect SQLAlchemy does not know
        raise ValueError(f"unknown database {parsed.drivername!r} ({URL_EXAMPLES})") from None
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        raise ValueError(
            f"the driver for {parsed.drivername} is not installed (no module {exc.name or '?'}); "
            "install it or name an installed one, e.g. postgresql+psycopg://"
        ) from None
    path = sqlite_path(url)
    if path is not None:
        _check_sqlite_file(path, create=create)
    return parsed


def is_busy(exc: BaseException) -> bool:
    """SQLite's "database is locked": another process holds the lock for now (worth another try)."""
    return "locked" in str(exc)


def unreachable(origin: StoreOrigin | None, exc: SQLAlchemyError) -> ConfigError:
    """The database behind a valid URL cannot be opened (server down, wrong password, read-only file)."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    problem = lines[0] if lines else type(cause).__name__
    return (origin or StoreOrigin()).error(f"cannot open the database: {problem}")


def _check_sqlite_file(path: Path, *, create: bool) -> None:
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not a database file")
    if path.exists():
        # SQLite writes its -wal and -shm files beside the database.
        if not os.access(path, os.R_OK | os.W_OK) or not os.access(path.parent, os.W_OK | os.X_OK):
            raise ValueError(f"cannot write {path} or its folder")
        return
    if not create:
        return  # open_engine says there is no database here
    folder = path.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise ValueError(f"cannot create {path}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"cannot create {path}: no permission to write in {folder}")


class RawJSON(str):
    """JSON text already serialised (a journal line): a JSON column stores it as it is."""


def _json_serializer(value: Any) -> str:
    # Every finished conversation is serialised once, for the journal; the store reuses that text.
    return value if isinstance(value, RawJSON) else json.dumps(value)


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL, None for other databases, in-memory SQLite and non-URLs."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None  # check_store_url says what is wrong with it
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


def open_engine(
    url: str, *, create: bool = True, manual_checkpoints: bool = False, origin: StoreOrigin | None = None
) -> Engine:
    """An engine for `url`; a SQLite file (and its folder) is created unless `create` is False.

    `manual_checkpoints`: a SQLite file's connections never checkpoint its WAL on commit (a
    Checkpointer does it instead). A bad URL is a ConfigError naming `origin`.
    """
    try:
        check_store_url(url, create=create)
    except ValueError as exc:
        raise (origin or StoreOrigin()).error(str(exc)) from None
    path = sqlite_path(url)
    if path is not None:
        if not path.exists():
            if not create:
                where = origin or StoreOrigin(str(path))
                raise MissingDatabase(
                    where.source, where.field, f"no results database at {path} (run a load test first)"
                )
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise (origin or StoreOrigin()).error(
                    f"cannot create the folder of {path}: {exc.strerror or exc}"
                ) from None
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
