"""The same store API on a real PostgreSQL started for the test (skipped where none is installed)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from convoload.store.results import LATEST, ResultsStore, SchemaVersionError, migrate
from tests.helpers import needs_postgres
from tests.store.scenario import assert_scenario, fill

pytest.importorskip("psycopg")


pytestmark = [pytest.mark.e2e, needs_postgres]


_databases = iter(range(1, 1000))


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    """A fresh, empty database per test."""
    name = f"results_{next(_databases)}"
    admin = create_engine(f"{postgres_server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return f"{postgres_server}/{name}"


def test_scenario_on_postgres(postgres_url: str) -> None:
    with ResultsStore(postgres_url) as store:
        runs = fill(store)
        assert_scenario(store, runs)
    # Reopened: everything was committed, and the schema is not migrated twice.
    with ResultsStore(postgres_url) as store:
        assert len(store.conversations("a1b2-base")) == 5
        with store.engine.connect() as conn:
            versions = conn.execute(text("SELECT version FROM schema_version ORDER BY version")).scalars()
            assert list(versions) == list(range(1, LATEST + 1))


def test_migrations_on_postgres(postgres_url: str) -> None:
    with ResultsStore(postgres_url) as store:
        assert migrate(store.engine) == LATEST
        with store.engine.begin() as conn:
            conn.execute(text("INSERT INTO schema_version VALUES (:v, 'later')"), {"v": LATEST + 1})
        with pytest.raises(SchemaVersionError):
            migrate(store.engine)


def test_a_batch_with_serialised_documents_on_postgres(postgres_url: str) -> None:
    from pydantic_core import to_json

    from convoload.store.results import RawJSON
    from tests.store.scenario import baseline

    records = baseline("pg-batch")
    with ResultsStore(postgres_url) as store:
        store.start_run("pg-batch", {})
        store.add_conversations(
            "pg-batch", [(r, RawJSON(to_json(r.to_document()).decode())) for r in records]
        )
        stored = store.conversations("pg-batch")
        assert [r.to_document() for r in stored] == [r.to_document() for r in records]
        assert store.get_run("pg-batch").conversations == len(records)
        with store.engine.connect() as conn:
            kinds = conn.execute(text("SELECT jsonb_typeof(document::jsonb) FROM conversations")).scalars()
            assert set(kinds) == {"object"}  # a JSON document, not a JSON string holding one
