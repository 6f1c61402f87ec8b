"""Test setup. Patching must come first: the code under test runs on gevent, as under Locust."""

from gevent import monkey

monkey.patch_all()

import os  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

from convoload.identity import IdentityFactory  # noqa: E402
from convoload.targets.base import Session  # noqa: E402
from tests.helpers import LocalApp, postgres_user  # noqa: E402

# Fixtures more than one folder uses, each defined once (only this root conftest may list plugins).
pytest_plugins = [
    "tests.fixtures.dashboard",
    "tests.fixtures.faulty",
    "tests.fixtures.processes",
    "tests.fixtures.realestate",
    "pytester",  # tests/pytest_plugin run convoload's pytest plugin in pytest sessions of their own
]

# In CI the property tests try the same examples every run: a red build is reproducible, never a fluke.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def demo_server():
    """The bundled ticket agent as a real subprocess, with a short reply delay."""
    from convoload_demo.tickets.launcher import DemoTicketServer
    from convoload_demo.tickets.settings import TicketServerSettings

    with DemoTicketServer(TicketServerSettings(reply_delay_s=0.01, jitter_s=0.0)) as server:
        yield server


@pytest.fixture
def session() -> Session:
    identity = IdentityFactory(1).identity(0)
    return Session(session_id="s1", user_id=1, persona="Tester", identity=identity)


@pytest.fixture
def local_app() -> Iterator[Callable[..., LocalApp]]:
    apps: list[LocalApp] = []

    def make(handler):
        app = LocalApp(handler)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.stop()


@pytest.fixture(scope="session")
def postgres_server():
    """Base URL (no database) of a throwaway PostgreSQL on loopback, shared by the tests that need one."""
    import os
    import shutil
    import socket
    import subprocess
    import tempfile

    user = postgres_user()
    home = tempfile.mkdtemp(prefix="convoload-pg-")
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
            "postgres",
            "-D",
            data,
            "-p",
            str(port),
            "-k",
            home,
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
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
