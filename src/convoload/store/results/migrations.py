"""Schema versions: ordered migrations, applied in one transaction, recorded in `schema_version`."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, Engine, func, insert, select

from convoload.errors import InputError, StoreError
from convoload.model import utc_now
from convoload.store.results import schema


class SchemaVersionError(InputError, StoreError):
    """The database was written by a newer convoload than this one."""


def _v1_base_tables(conn: Connection) -> None:
    schema.metadata.create_all(
        conn, tables=[schema.runs, schema.conversations, schema.turns, schema.findings], checkfirst=False
    )


def _v2_grades(conn: Connection) -> None:
    schema.grades.create(conn, checkfirst=False)


def _v3_monitor(conn: Connection) -> None:
    schema.metadata.create_all(conn, tables=schema.MONITOR_TABLES, checkfirst=False)


def _v4_capacity(conn: Connection) -> None:
    schema.capacity.create(conn, checkfirst=False)


def _v5_judgements(conn: Connection) -> None:
    schema.judgements.create(conn, checkfirst=False)


# Append only: a released migration never changes, its position is its version number.
MIGRATIONS: list[Callable[[Connection], None]] = [
    _v1_base_tables,
    _v2_grades,
    _v3_monitor,
    _v4_capacity,
    _v5_judgements,
]
LATEST = len(MIGRATIONS)


def current_version(conn: Connection) -> int:
    """The version of the schema in the database; 0 when empty."""
    if not conn.dialect.has_table(conn, schema.schema_version.name):
        return 0
    return conn.execute(select(func.max(schema.schema_version.c.version))).scalar_one() or 0


def migrate(engine: Engine, target: int | None = None) -> int:
    """Apply the pending migrations (up to `target`, default all) in one transaction; returns the version.

    Idempotent: a database already at the target is left alone.
    """
    target = LATEST if target is None else target
    with engine.begin() as conn:
        schema.schema_version.create(conn, checkfirst=True)
        version = current_version(conn)
        if version > LATEST:
            raise SchemaVersionError(
                f"results database is at schema version {version}, but this convoload knows only "
                f"up to {LATEST}: upgrade convoload to read it"
            )
        for number in range(version + 1, target + 1):
            MIGRATIONS[number - 1](conn)
            conn.execute(insert(schema.schema_version).values(version=number, applied_at=utc_now()))
        return max(version, target)
