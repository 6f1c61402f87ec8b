"""The same store API on a real PostgreSQL started for the test (skipped where none is installed)."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from convoload.store.results import LATEST, ResultsStore, SchemaVersionError, migrate
from tests.store.scenario import assert_scenario, fill

pytest.importorskip("psycopg")


def _postgres_user() -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        return None


pytestmark = pytest.mark.skipif(
    shutil.which("initdb") is None
    or shutil.which("postgres") is None
    or _postgres_user() is None
    or shutil.which("runuser") is None,
    reason="PostgreSQL server binaries (initdb, postgres) and a postgres user are not installed",
)


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[str]:
    """Base URL (no database) of a throwaway server on loopback."""
    user = _postgres_user()
    assert user is not None
    home = tempfile.mkdtemp(prefix="convoload-pg-results-")
    os.chown(home, user.pw_uid, user.pw_gid)
    data = os.path.join(home, "data")
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run(
        [*as_postgres, "initdb", "-D", data, "-A", "trust", "-U", "convoload", "--no-sync"],
        check=True,
        capture_output=True,
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    server = subprocess.Popen(
        [
            *as_postgres,
            *("postgres", "-D", data, "-p", str(port), "-k", home),
            *("-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        for line in server.stderr:  # ready when it says so: no polling
            if "ready to accept connections" in line:
                break
        else:
            pytest.fail("postgres exited before it was ready")
        yield f"postgresql+psycopg://convoload@127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(home, ignore_errors=True)


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
