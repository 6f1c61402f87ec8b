"""Test setup. Patching must come first: the code under test runs on gevent, as under Locust."""

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import threading  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402

from convoload.identity import IdentityFactory  # noqa: E402
from convoload.targets.base import Session  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def demo_server():
    """The bundled ticket agent as a real subprocess, with a short reply delay."""
    from convoload.demo.tickets.launcher import DemoTicketServer
    from convoload.demo.tickets.settings import TicketServerSettings

    with DemoTicketServer(TicketServerSettings(reply_delay_s=0.01, jitter_s=0.0)) as server:
        yield server


@pytest.fixture
def session() -> Session:
    identity = IdentityFactory(1).identity(0)
    return Session(session_id="s1", user_id=1, persona="Tester", identity=identity)


class LocalApp:
    """A real HTTP server on loopback whose behaviour each test sets with a handler."""

    def __init__(self, handler: Callable[[dict, bytes], tuple[int, bytes | str | dict]]) -> None:
        self.handler = handler
        self.requests: list[tuple[str, bytes]] = []
        self.server = WSGIServer(("127.0.0.1", 0), self._app, log=None, error_log=None)
        self.server.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.lock = threading.Lock()

    def _app(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        self.requests.append((environ["PATH_INFO"], body))
        status, payload = self.handler(environ, body)
        if isinstance(payload, dict | list):
            payload = json.dumps(payload).encode()
        elif isinstance(payload, str):
            payload = payload.encode()
        start_response(
            f"{status} X", [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
        )
        return [payload]

    def stop(self) -> None:
        self.server.stop(timeout=1)


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


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def run_dirs(runs: Path) -> list[Path]:
    """The run folders under a runs directory (it also holds the results database)."""
    return sorted(p for p in runs.iterdir() if p.is_dir())
