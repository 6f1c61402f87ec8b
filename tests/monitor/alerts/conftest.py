"""Fixtures of the alert tests: a hand-driven clock, a real SMTP server, a port that refuses."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.helpers import free_port
from tests.monitor.alerts.helpers import ManualClock, SmtpHandler, SmtpServer


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def refused_port() -> Iterator[int]:
    # Bound but never listening: connecting is refused, and no other test can take the port meanwhile.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A self-signed certificate for 127.0.0.1 (PEM with its key); it is also the client's CA file."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    request = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"]
    subprocess.run(
        [
            "openssl",
            *request,
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    (folder / "both.pem").write_text(cert.read_text() + key.read_text())
    return cert


@pytest.fixture
def smtp_server(tls_cert: Path) -> Iterator[Callable[..., SmtpServer]]:
    """Start real aiosmtpd servers: `smtp_server(tls="none"|"starttls"|"ssl", login=("user", "pw"))`."""
    controllers: list[Controller] = []

    def start(tls: str = "none", login: tuple[str, str] | None = None) -> SmtpServer:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(tls_cert.parent / "both.pem")
        server = SmtpServer(port=free_port())  # aiosmtpd's readiness check cannot use port 0

        def authenticate(
            _server: Any, _session: Any, _envelope: Any, _mechanism: str, data: Any
        ) -> AuthResult:
            ok = (
                isinstance(data, LoginPassword)
                and login is not None
                and data == LoginPassword(*map(str.encode, login))
            )
            return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd replies 535

        options: dict[str, Any] = {"hostname": "127.0.0.1", "port": server.port}
        if tls == "starttls":
            options["tls_context"] = context  # AUTH is only offered after STARTTLS (aiosmtpd's default)
        elif tls == "ssl":
            options["ssl_context"] = context
        if login:
            options.update(authenticator=authenticate, auth_required=True)
        controller = Controller(SmtpHandler(server), **options)
        controller.start()
        controllers.append(controller)
        return server

    yield start
    for controller in controllers:
        controller.stop()
