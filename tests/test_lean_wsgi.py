"""The receiver's lean pywsgi server: its own header parsing, over a real loopback socket."""

import io
import socket

import pytest

from convoload.targets.lean_wsgi import MAX_HEADER_LINE, MAX_HEADERS, LeanWSGIServer, RequestHeaders
from tests.helpers import exchange


def headers_of(block: bytes) -> RequestHeaders:
    return RequestHeaders(io.BufferedReader(io.BytesIO(block)))


def test_headers_are_read_case_insensitively_and_the_first_occurrence_answers():
    h = headers_of(b"Host: a\r\nContent-Type: application/json\r\nX-Tag: one\r\nx-tag: two\r\n\r\nBODY")
    assert h.status == ""
    assert h.get("content-type") == h.typeheader == "application/json"
    assert h.getheader("X-TAG") == "one"
    assert h.get("missing", "default") == "default"
    assert h.headers == [
        "Host: a\r\n",
        "Content-Type: application/json\r\n",
        "X-Tag: one\r\n",
        "x-tag: two\r\n",
    ]


def test_a_folded_header_continues_its_value_and_bare_newlines_are_accepted():
    h = headers_of(b"X-Long: first\n  second\nHost: a\n\n")
    assert h.get("x-long") == "first second"
    assert h.headers == ["X-Long: first\r\n", "  second\r\n", "Host: a\r\n"]


def test_deleting_a_header_removes_every_occurrence_with_its_continuations():
    h = headers_of(b"Content-Length: 5\r\n\tfolded\r\nHost: a\r\ncontent-length: 6\r\n\r\n")
    del h["CONTENT-LENGTH"]
    assert h.get("content-length") is None
    assert h.headers == ["Host: a\r\n"]
    with pytest.raises(KeyError):
        del h["content-length"]


@pytest.mark.parametrize(
    ("block", "status"),
    [
        (b"X: " + b"a" * MAX_HEADER_LINE + b"\r\n\r\n", "Line too long"),
        (b"".join(b"X-%d: v\r\n" % i for i in range(MAX_HEADERS + 1)) + b"\r\n", "More than 100 headers"),
        (b"no colon here\r\n\r\n", "Invalid header line 'no colon here'"),
        (b"Host : a\r\n\r\n", "Invalid header line 'Host : a'"),
        (b"  folded first\r\n\r\n", "Continuation line before any header"),
    ],
)
def test_bad_header_blocks_get_a_status(block, status):
    assert headers_of(block).status == status


@pytest.fixture
def server():
    seen = []

    def app(environ, start_response):
        body = environ["wsgi.input"].read()
        seen.append({k: v for k, v in environ.items() if k.isupper()} | {"body": body})
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]

    s = LeanWSGIServer(("127.0.0.1", 0), app, log=None, error_log=None)
    s.start()
    s.seen = seen
    yield s
    s.stop(timeout=1)


def test_keep_alive_requests_reach_the_application_with_their_headers(server):
    request = (
        b"POST /cb/x HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nX-Trace: a\r\n"
        b'Content-Length: 4\r\n\r\n{"a"'
    )
    last = request.replace(b"X-Trace: a", b"X-Trace: b\r\nConnection: close")
    answer = exchange(server.server_port, request + last)
    assert answer.count(b"HTTP/1.1 200 OK") == 2
    assert b"\r\nDate: " in answer
    first, second = server.seen
    assert first["PATH_INFO"] == "/cb/x"
    assert first["CONTENT_TYPE"] == "application/json"
    assert first["CONTENT_LENGTH"] == "4"
    assert (first["HTTP_X_TRACE"], second["HTTP_X_TRACE"]) == ("a", "b")
    assert first["body"] == b'{"a"'


def test_a_chunked_body_is_read_whole_and_its_length_header_ignored(server):
    request = (
        b"POST /cb HTTP/1.1\r\nHost: h\r\nConnection: close\r\n"
        b"Transfer-Encoding: chunked\r\nContent-Length: 99\r\n\r\n"
        b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )
    answer = exchange(server.server_port, request)
    assert answer.startswith(b"HTTP/1.1 200 OK")
    assert server.seen[0]["body"] == b"abcde"
    assert "CONTENT_LENGTH" not in server.seen[0]


def test_expect_100_continue_is_answered_before_the_body_is_read(server):
    with socket.create_connection(("127.0.0.1", server.server_port), timeout=5) as sock:
        sock.sendall(b"POST /cb HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
        assert sock.recv(1024).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(b"ok")
        assert sock.recv(1024).startswith(b"HTTP/1.1 200 OK")
    assert server.seen[0]["body"] == b"ok"


def test_a_malformed_header_block_is_a_400_and_never_reaches_the_application(server):
    answer = exchange(server.server_port, b"POST /cb HTTP/1.1\r\nHost: h\r\nbroken line\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 Bad Request")
    assert server.seen == []
