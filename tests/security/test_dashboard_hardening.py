"""The monitor dashboard, attacked over real HTTP: report ids that are no job's are a 404 (not a 500 or a
422), and the `?token=` login redirect never sends a browser to another host (open redirect)."""

from __future__ import annotations

import re
import socket
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from convoload.monitor.dashboard.auth import COOKIE
from convoload.monitor.dashboard.launcher import DashboardServer
from tests.monitor.dashboard.helpers import TOKEN
from tests.monitor.dashboard.sample import Seeded

BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.mark.e2e
@pytest.mark.parametrize(
    "job_id",
    [
        "9" * 5000,  # beyond Python's int-parsing limit
        "9" * 20,  # beyond a 64-bit database id
        "9223372036854775808",  # 2**63
        "abc",
        "1e3",
        "0x10",
        "1.5",
        "-1",
        "%00",
        "%20",
        "%F0%9F%98%80",
        "١٢",  # Arabic-Indic digits: int() would read them as 12
    ],
)
def test_a_report_id_that_is_no_job_is_a_404(secured: DashboardServer, job_id: str) -> None:
    response = httpx.get(f"{secured.url}/reports/{job_id}", headers=BEARER)
    assert response.status_code == 404, response.text[:300]
    assert response.json() == {"detail": "no such report"}


@pytest.mark.e2e
def test_a_real_report_is_still_served(secured: DashboardServer, seeded: Seeded) -> None:
    response = httpx.get(f"{secured.url}/reports/{seeded.jobs['collect']}", headers=BEARER)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    huge = httpx.get(f"{secured.url}/reports/{'1' * 5000}")
    assert huge.status_code == 401  # and without the token, nothing at all


def raw_get(url: str, target: str) -> tuple[int, dict[str, str]]:
    """GET with the request target exactly as given (HTTP clients normalise `//x`, `\\`, absolute forms)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(
            f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n".encode("latin-1")
        )
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    status = int(head[0].split()[1])
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), value.strip())
    return status, headers


def where_a_browser_goes(base: str, location: str) -> str:
    """The host a browser lands on: it drops tabs and newlines, and reads `\\` as `/` in http(s) URLs."""
    cleaned = re.sub(r"[\t\r\n]", "", location).strip().replace("\\", "/")
    return urlsplit(urljoin(base, cleaned)).netloc


@pytest.mark.e2e
@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/?token={token}",
        "//evil.example?token={token}",
        "///evil.example/?token={token}",
        "////evil.example/x?token={token}",
        "/\\evil.example/?token={token}",
        "/\\/evil.example/?token={token}",
        "/%2F%2Fevil.example/?token={token}",
        "/%2F/evil.example/?token={token}",
        "/%5C%5Cevil.example/?token={token}",
        "/%5Cevil.example?token={token}",
        "/%09/evil.example?token={token}",
        "http://evil.example/?token={token}",  # absolute-form request target
        "https://evil.example/x/y?token={token}",
        "/?token={token}&next=//evil.example",
        "/?next=https://evil.example&token={token}",
        "/api/status?token={token}&next=%2F%2Fevil.example&redirect=/\\evil.example",
    ],
)
def test_the_token_redirect_stays_on_this_host(secured: DashboardServer, target: str) -> None:
    status, headers = raw_get(secured.url, target.format(token=TOKEN))
    if status != 303:  # the server may refuse a target outright; it must not redirect anywhere else
        assert 400 <= status < 500 and "location" not in headers, (status, headers)
        return
    location = headers["location"]
    assert location.startswith("/") and location[1:2] not in ("/", "\\"), location
    assert "://" not in location.split("?")[0] and TOKEN not in location, location
    assert where_a_browser_goes(secured.url + "/", location) == urlsplit(secured.url).netloc, location
    assert headers["set-cookie"].startswith(f"{COOKIE}=")


@pytest.mark.e2e
def test_the_token_redirect_still_logs_in(secured: DashboardServer) -> None:
    with httpx.Client(base_url=secured.url) as client:
        first = client.get("/api/series", params={"name": "convoload_error_ratio", "token": TOKEN})
        assert first.status_code == 303
        assert first.headers["location"] == "/api/series?name=convoload_error_ratio"
        assert client.get(first.headers["location"]).status_code == 200  # with the cookie it set
