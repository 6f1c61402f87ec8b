"""Engine setup, schema creation, bulk insertion and seeding of the catalog database."""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Iterable, Mapping
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, inspect, select, text

from convoload_demo.realestate.catalog.generator import CREATED_FROM, generate_listings
from convoload_demo.realestate.catalog.geo import fold
from convoload_demo.realestate.catalog.model import amenity_mask, listings, metadata, visits

__all__ = [
    "complete_listing",
    "count_listings",
    "create_schema",
    "default_database_url",
    "insert_listings",
    "open_engine",
    "seed_catalog",
]

_BATCH = 5_000


def default_database_url() -> str:
    """A SQLite file in a fresh temporary directory."""
    return f"sqlite:///{Path(tempfile.mkdtemp(prefix='convoload-catalog-')) / 'catalog.db'}"


def _sqlite_setup(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    # WAL lets the request threads read while a visit is being written; NORMAL sync is enough for a demo.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Pooled connections each have a private page cache; memory-mapping the file lets them share the
    # OS page cache instead of each warming up its own copy.
    cursor.execute("PRAGMA mmap_size=1073741824")
    cursor.execute("PRAGMA cache_size=-32000")
    cursor.close()
    # The haversine filter needs trigonometry; older SQLite builds lack the math functions.
    try:
        dbapi_conn.execute("SELECT sin(0), cos(0), asin(0), sqrt(0), radians(0)")
    except Exception:  # sqlite3.OperationalError: no such function
        for name, fn in (
            ("sin", math.sin),
            ("cos", math.cos),
            ("sqrt", math.sqrt),
            ("radians", math.radians),
        ):
            dbapi_conn.create_function(name, 1, fn, deterministic=True)
        dbapi_conn.create_function("asin", 1, lambda x: math.asin(max(-1.0, min(1.0, x))), deterministic=True)


def open_engine(url: str) -> Engine:
    """Engine for any SQLAlchemy URL; SQLite gets thread sharing, WAL and math functions."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_setup)
        return engine
    return create_engine(url, pool_pre_ping=True)


_OLD_SLOT_CONSTRAINT = "uq_visits_property_slot"  # unique over every visit, released ones too


def create_schema(engine: Engine) -> None:
    """Create the tables and indexes when missing (existing data is kept)."""
    _drop_old_slot_constraint(engine)
    metadata.create_all(engine)


def _drop_old_slot_constraint(engine: Engine) -> None:
    """Databases made before released visits: their slot constraint would keep a released slot taken."""
    inspector = inspect(engine)
    if not inspector.has_table("visits"):
        return
    if _OLD_SLOT_CONSTRAINT not in {c["name"] for c in inspector.get_unique_constraints("visits")}:
        return
    with engine.begin() as conn:
        if engine.dialect.name != "sqlite":
            conn.execute(text(f"ALTER TABLE visits DROP CONSTRAINT {_OLD_SLOT_CONSTRAINT}"))
            for index in visits.indexes:  # create_all makes indexes only with their table
                index.create(conn, checkfirst=True)
            return
        # SQLite cannot drop a constraint: the table is rebuilt with the new schema, rows and ids kept.
        conn.execute(text("ALTER TABLE visits RENAME TO visits_before_release"))
        visits.create(conn)
        columns = ", ".join(c.name for c in visits.columns)
        conn.execute(text(f"INSERT INTO visits ({columns}) SELECT {columns} FROM visits_before_release"))
        conn.execute(text("DROP TABLE visits_before_release"))


def complete_listing(**fields: Any) -> dict[str, Any]:
    """A full listing row: the given fields over plain defaults (handy for hand-made test fixtures)."""
    row: dict[str, Any] = {
        "title": "Apartamento",
        "description": "Apartamento de teste.",
        "transaction_type": "sale",
        "property_type": "apartment",
        "status": "available",
        "price": 500_000,
        "condo_fee": 0,
        "iptu_yearly": 0,
        "bedrooms": 2,
        "suites": 0,
        "bathrooms": 1,
        "parking_spaces": 1,
        "usable_area_m2": 60.0,
        "total_area_m2": 70.0,
        "furnished": False,
        "pet_friendly": False,
        "amenities": [],
        "street": "Rua das Flores",
        "number": "100",
        "neighbourhood": "Centro",
        "city": "Florianópolis",
        "state": "SC",
        "cep": "88010-000",
        "latitude": -27.596,
        "longitude": -48.549,
        "year_built": 2010,
        "created_at": CREATED_FROM,
        "updated_at": CREATED_FROM,
    }
    row.update(fields)
    return row


def _db_row(row: Mapping[str, Any]) -> dict[str, Any]:
    full = complete_listing(**row)
    full["city_key"] = fold(full["city"])
    full["neighbourhood_key"] = fold(full["neighbourhood"])
    full["amenity_mask"] = amenity_mask(full["amenities"])
    for key in ("created_at", "updated_at"):
        if isinstance(full[key], str):
            full[key] = datetime.fromisoformat(full[key].removesuffix("Z"))
    return full


def _sqlite_params(row: dict[str, Any], columns: list[str]) -> tuple[Any, ...]:
    """The row as SQLAlchemy's SQLite types would store it: ISO datetimes and JSON text."""
    values = dict(row)
    values["amenities"] = json.dumps(row["amenities"])
    values["created_at"] = row["created_at"].isoformat(" ", "microseconds")
    values["updated_at"] = row["updated_at"].isoformat(" ", "microseconds")
    return tuple(values[name] for name in columns)


def insert_listings(engine: Engine, rows: Iterable[Mapping[str, Any]]) -> int:
    """Bulk-insert listings (missing fields get :func:`complete_listing` defaults); returns the count.

    Into an empty table the indexes are dropped first and rebuilt at the end: building an index once
    from sorted data is several times faster than updating it row by row.
    """
    iterator = iter(rows)
    total = 0
    columns = [column.name for column in listings.columns]
    sqlite_sql = f"INSERT INTO listings ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    rebuild = count_listings(engine) == 0
    with engine.begin() as conn:
        if rebuild:
            for index in listings.indexes:
                index.drop(conn, checkfirst=True)
        while batch := [_db_row(row) for row in islice(iterator, _BATCH)]:
            if engine.dialect.name == "sqlite":
                # Straight to the driver: SQLAlchemy's per-row type processing costs more than the insert.
                conn.exec_driver_sql(sqlite_sql, [_sqlite_params(row, columns) for row in batch])
            else:
                conn.execute(listings.insert(), batch)  # executemany: one statement, many parameter sets
            total += len(batch)
        if rebuild:
            for index in listings.indexes:
                index.create(conn, checkfirst=True)
        if engine.dialect.name == "sqlite":
            conn.execute(text("ANALYZE"))  # index statistics, so the planner picks the covering indexes
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            # Move the bulk insert from the WAL into the database file: reads through a huge WAL are slower.
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return total


def count_listings(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(listings)).scalar_one())


def seed_catalog(engine: Engine, count: int, seed: int = 42) -> int:
    """Create the schema and, when the database has no listings yet, insert ``count`` generated ones.

    Returns the number of listings in the database afterwards.
    """
    create_schema(engine)
    existing = count_listings(engine)
    if existing or count <= 0:
        return existing
    return insert_listings(engine, generate_listings(count, seed))
