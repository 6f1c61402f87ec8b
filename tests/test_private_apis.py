"""The private parts of gevent and geventhttpclient convoload relies on, pinned.

- targets/httpcommon.py replaces `HTTPClient._connection_pool._resolve` (geventhttpclient) so that an
  IP-address target skips the resolver, with the getaddrinfo answer `_literal_address` builds from the
  arguments the pool itself resolves with.
- targets/lean_wsgi.py subclasses gevent.pywsgi's `WSGIHandler`: it overrides private methods and reads
  the handler's per-request attributes and `wsgi_input`'s (`chunked_input`, `chunk_length`, `position`,
  `content_length`).

An upgrade that changes one of them fails here, naming what changed, rather than deep in a load test.
The versions below are the range this was verified against (the lower bounds are what current Locust
requires; checked on gevent 26.9.0 and geventhttpclient 2.6.1). After checking a new release
with this file, widen the range.
"""

import inspect
import socket
from importlib.metadata import version

import pytest
from gevent import pywsgi
from geventhttpclient import HTTPClient
from geventhttpclient.connectionpool import ConnectionPool
from packaging.specifiers import SpecifierSet

from convoload.targets.httpcommon import HttpEndpoint, _literal_address
from convoload.targets.lean_wsgi import LeanWSGIHandler, LeanWSGIServer, RequestHeaders
from tests.helpers import exchange

VERIFIED = {"gevent": ">=24.11.1,<27", "geventhttpclient": ">=2.5.1,<3"}

# pywsgi's WSGIHandler methods lean_wsgi.py overrides, with the parameters pywsgi calls them with.
PYWSGI_OVERRIDES = {
    "MessageClass": "(self, *args)",  # called as MessageClass(rfile, 0)
    "handle": "(self)",
    "read_requestline": "(self)",
    "read_request": "(self, raw_requestline)",
    "get_environ": "(self)",
    "handle_one_response": "(self)",
    "_handle_client_error": "(self, ex)",
    "handle_error": "(self, t, v, tb)",
    "_send_error_response_if_possible": "(self, error_code)",
    "log_error": "(self, msg, *args)",
    "_log_error": "(self, t, v, tb)",
    "log_request": "(self)",
    "finalize_headers": "(self)",
}


@pytest.mark.parametrize("package", sorted(VERIFIED))
def test_the_installed_version_is_one_the_private_apis_were_verified_against(package):
    installed = version(package)
    assert installed in SpecifierSet(VERIFIED[package]), (
        f"{package} {installed} is outside {VERIFIED[package]}, the range convoload's use of its private "
        f"API was verified against: run tests/test_private_apis.py and, if it passes, widen VERIFIED there"
    )


def test_geventhttpclient_resolves_through_the_connection_pools_private_resolve():
    assert "_resolve" in vars(ConnectionPool), "geventhttpclient's ConnectionPool has no _resolve any more"
    params = list(inspect.signature(ConnectionPool._resolve).parameters)
    assert params == ["self"], f"ConnectionPool._resolve now takes {params}, httpcommon.py passes none"


@pytest.fixture
def wsgi_server():
    def app(environ, start_response):
        body = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]

    server = pywsgi.WSGIServer(("127.0.0.1", 0), app, log=None, error_log=None)
    server.start()
    yield server
    server.stop(timeout=1)


def test_the_pool_connects_where_the_patched_resolve_says(wsgi_server):
    # A client for a port nobody listens on reaches the server only through the replaced _resolve.
    unused = socket.socket()
    unused.bind(("127.0.0.1", 0))
    dead_port = unused.getsockname()[1]
    unused.close()
    client = HTTPClient("127.0.0.1", dead_port, concurrency=1, connection_timeout=5, network_timeout=5)
    assert isinstance(client._connection_pool, ConnectionPool), "HTTPClient has no _connection_pool any more"
    answer = _literal_address("127.0.0.1", wsgi_server.server_port)
    client._connection_pool._resolve = lambda: answer
    try:
        response = client.request("POST", "/", body=b"ping")
        assert (response.status_code, response.read()) == (200, b"ping")
    finally:
        client.close()


def test_the_literal_address_is_what_the_pool_would_resolve_itself():
    client = HTTPClient("127.0.0.1", 8080, concurrency=1)
    try:
        assert client._connection_pool._resolve() == _literal_address("127.0.0.1", 8080)
    finally:
        client.close()


def test_an_http_endpoint_for_an_ip_address_uses_the_patch(wsgi_server):
    endpoint = HttpEndpoint(
        f"http://127.0.0.1:{wsgi_server.server_port}/",
        "POST",
        {},
        {"text": "{text}"},
        timeout_s=5,
        connect_timeout_s=5,
    )
    try:
        status, content, _ = endpoint.send("s1", {"text": "hi"})
        assert (status, content) == (200, b'{"text":"hi"}')
        client, _ = endpoint._clients["s1"]
        resolve = client._connection_pool._resolve
        assert getattr(resolve, "__self__", None) is None, "the pool's own _resolve ran: the patch is gone"
        assert resolve() == _literal_address("127.0.0.1", wsgi_server.server_port)
    finally:
        endpoint.close()


@pytest.mark.parametrize(("name", "expected"), sorted(PYWSGI_OVERRIDES.items()))
def test_pywsgi_still_has_the_handler_methods_lean_wsgi_overrides(name, expected):
    base = getattr(pywsgi.WSGIHandler, name, None)
    assert base is not None, f"gevent.pywsgi.WSGIHandler.{name} is gone: LeanWSGIHandler overrides it"
    found = str(inspect.signature(base)).split(" -> ")[0]
    assert found == expected, (
        f"gevent.pywsgi.WSGIHandler.{name} is now {found}, lean_wsgi.py expects {expected}"
    )
    assert name in vars(LeanWSGIHandler)


class RecordingHandler(LeanWSGIHandler):
    """The lean handler, showing itself to the application (to look at its attributes mid-request)."""

    def get_environ(self):
        environ = super().get_environ()
        environ["test.handler"] = self
        return environ


@pytest.fixture
def lean_server():
    seen = []

    def app(environ, start_response):
        handler = environ["test.handler"]
        given = handler.wsgi_input
        before = (given.chunked_input, given.content_length, handler._body_read(), handler.phase)
        body = environ["wsgi.input"].read()
        seen.append(
            {
                "before": before,
                "after": (handler._body_read(), given.chunk_length, given.position),
                "headers": handler.headers,
                "body": body,
                "attributes": [
                    a
                    for a in ("socket", "close_connection", "provided_date", "response_headers", "server")
                    if not hasattr(handler, a)
                ],
            }
        )
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]

    server = LeanWSGIServer(("127.0.0.1", 0), app, log=None, error_log=None)
    server.handler_class = RecordingHandler
    server.start()
    server.seen = seen
    yield server
    server.stop(timeout=1)


@pytest.mark.parametrize(
    ("framing", "body", "chunked", "length"),
    [
        (b"Content-Length: 5\r\n\r\n", b"hello", False, 5),
        (b"Transfer-Encoding: chunked\r\n\r\n", b"3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n", True, None),
    ],
)
def test_pywsgi_request_state_is_where_lean_wsgi_reads_it(lean_server, framing, body, chunked, length):
    answer = exchange(
        lean_server.server_port, b"POST /cb HTTP/1.1\r\nHost: h\r\nConnection: close\r\n" + framing + body
    )
    assert answer.startswith(b"HTTP/1.1 200 OK")
    assert answer.count(b"\r\nDate: ") == 1, "pywsgi added its own Date besides provided_date's"
    (seen,) = lean_server.seen
    assert seen["attributes"] == [], f"pywsgi's handler lost {seen['attributes']}"
    assert isinstance(seen["headers"], RequestHeaders), "pywsgi no longer builds headers with MessageClass"
    assert seen["body"] == b"hello"
    # wsgi_input's fields: what _body_read and get_environ read to tell a body still coming from one read.
    assert seen["before"] == (chunked, length, False, "body")
    assert seen["after"][0] is True
    if chunked:
        assert seen["after"][1] == 0, "a chunked body read whole no longer leaves chunk_length at 0"
    else:
        assert seen["after"][2] == 5, "a sized body read whole no longer leaves position at its length"
