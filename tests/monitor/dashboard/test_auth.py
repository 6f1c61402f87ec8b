"""Token auth: Bearer header, `?token=` once then a cookie, /health open; the token never in argv."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from convoload.monitor.dashboard.auth import COOKIE
from convoload.monitor.dashboard.launcher import DashboardServer
from convoload.monitor.dashboard.settings import TOKEN_ENV
from tests.monitor.dashboard.helpers import TOKEN, settings_for
from tests.monitor.dashboard.sample import Seeded

pytestmark = pytest.mark.e2e

ROUTES = [
    "/",
    "/api/status",
    "/api/series?name=convoload_success_ratio",
    "/metrics",
    "/reports/1",
    "/static/dashboard.js",
]


@pytest.mark.parametrize("route", ROUTES)
def test_every_route_needs_the_token(secured: DashboardServer, route: str) -> None:
    response = httpx.get(secured.url + route)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert TOKEN not in response.text


@pytest.mark.parametrize(
    "header", [f"Bearer {TOKEN}x", "Bearer", f"Basic {TOKEN}", TOKEN, f"Bearer {TOKEN[:-1]}"]
)
def test_wrong_credentials_are_refused(secured: DashboardServer, header: str) -> None:
    assert httpx.get(secured.url + "/api/status", headers={"Authorization": header}).status_code == 401


def test_health_needs_no_token(secured: DashboardServer) -> None:
    assert httpx.get(secured.health_url).json() == {"status": "ok"}


def test_bearer_token(secured: DashboardServer) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.get(secured.url + "/api/status", headers=headers).json()["status"] == "critical"
    metrics = httpx.get(secured.url + "/metrics", headers=headers)
    assert metrics.status_code == 200 and "convoload_success_ratio 0.875" in metrics.text


def test_query_token_sets_a_cookie_and_drops_the_token(secured: DashboardServer) -> None:
    with httpx.Client(base_url=secured.url) as client:
        first = client.get("/api/series", params={"name": "convoload_error_ratio", "token": TOKEN})
        assert first.status_code == 303
        assert first.headers["location"] == "/api/series?name=convoload_error_ratio"
        cookie = first.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE}=")
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        assert TOKEN not in cookie  # the cookie is derived from the token, not the token
        # The client now holds the cookie: no token, no header, and the API answers.
        follow = client.get(first.headers["location"])
        assert follow.status_code == 200 and follow.json()["name"] == "convoload_error_ratio"
        assert client.get("/api/status").json()["status"] == "critical"


def test_wrong_query_token_sets_nothing(secured: DashboardServer) -> None:
    response = httpx.get(secured.url + "/", params={"token": TOKEN + "x"})
    assert response.status_code == 401
    assert "set-cookie" not in response.headers


def test_forged_cookie_is_refused(secured: DashboardServer) -> None:
    for value in (TOKEN, "0" * 64):
        assert httpx.get(secured.url + "/api/status", cookies={COOKIE: value}).status_code == 401


def test_token_travels_by_environment_not_argv(secured: DashboardServer) -> None:
    cmdline = Path(f"/proc/{secured.pid}/cmdline").read_bytes()
    assert b"convoload.monitor.dashboard" in cmdline
    assert TOKEN.encode() not in cmdline
    environ = Path(f"/proc/{secured.pid}/environ").read_bytes().split(b"\0")
    assert f"{TOKEN_ENV}={TOKEN}".encode() in environ


def test_a_token_in_the_parents_environment_does_not_leak_in(
    seeded: Seeded, start_dashboard, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, "from-the-parent")
    server = start_dashboard(settings_for(seeded))  # settings say: no token
    assert httpx.get(server.url + "/api/status").status_code == 200


def test_token_is_not_written_to_the_servers_output(secured: DashboardServer) -> None:
    httpx.get(secured.url + "/", params={"token": TOKEN})
    httpx.get(secured.url + "/", params={"token": "wrong"})
    assert TOKEN not in secured.stderr_text()
