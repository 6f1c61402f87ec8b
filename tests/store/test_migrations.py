"""Schema migrations: v1 -> latest, idempotence, atomicity, and a database newer than the code."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, insert, inspect, select

from convoload.store.results import LATEST, ResultsStore, SchemaVersionError, current_version, migrate
from convoload.store.results import migrations as migrations_module
from convoload.store.results.engine import open_engine
from convoload.store.results.schema import runs, schema_version


@pytest.fixture
def engine(tmp_path: Path):
    engine = open_engine(f"sqlite:///{tmp_path / 'results.sqlite'}")
    yield engine
    engine.dispose()


def _versions(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(
            conn.execute(select(schema_version.c.version).order_by(schema_version.c.version)).scalars()
        )


def test_v1_database_is_brought_to_latest_keeping_its_data(engine: Engine) -> None:
    assert migrate(engine, target=1) == 1
    assert "grades" not in inspect(engine).get_table_names()
    with engine.begin() as conn:
        conn.execute(insert(runs).values(run_id="old", started_at="t", status="finished", meta={"k": 1}))

    assert LATEST == 5
    assert migrate(engine) == 5
    tables = inspect(engine).get_table_names()
    assert "grades" in tables
    assert {"metric_samples", "monitor_jobs", "alerts", "deliveries", "capacity", "judgements"} <= set(tables)
    assert _versions(engine) == [1, 2, 3, 4, 5]
    with engine.connect() as conn:
        assert conn.execute(select(runs.c.meta).where(runs.c.run_id == "old")).scalar_one() == {"k": 1}


def test_migrate_is_idempotent(engine: Engine) -> None:
    assert migrate(engine) == LATEST
    assert migrate(engine) == LATEST
    assert _versions(engine) == list(range(1, LATEST + 1))


def test_a_failing_migration_leaves_nothing_behind(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    migrate(engine, target=1)
    real_v2 = migrations_module.MIGRATIONS[1]

    def broken(conn: Connection) -> None:
        real_v2(conn)
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(migrations_module, "MIGRATIONS", [migrations_module.MIGRATIONS[0], broken])
    with pytest.raises(RuntimeError):
        migrate(engine)
    # The grades table created before the failure was rolled back with the version row.
    assert "grades" not in inspect(engine).get_table_names()
    with engine.connect() as conn:
        assert current_version(conn) == 1


def test_database_newer_than_the_code_is_refused(engine: Engine, tmp_path: Path) -> None:
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(insert(schema_version).values(version=LATEST + 1, applied_at="later"))
    with pytest.raises(SchemaVersionError, match=f"schema version {LATEST + 1}.*only up to {LATEST}"):
        migrate(engine)
    with pytest.raises(SchemaVersionError):
        ResultsStore(f"sqlite:///{tmp_path / 'results.sqlite'}")
