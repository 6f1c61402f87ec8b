"""Property-based tests of the receiver's hand-written header parser (`RequestHeaders`).

The reference is what stock pywsgi uses: `http.client.parse_headers` (the e-mail parser). Where the
two deliberately differ, the property says so:
- a value loses its surrounding SP/HTAB on both ends (RFC 9110's OWS; the e-mail parser keeps the
  trailing ones) and an obsolete folding joins the lines with one SP (the e-mail parser keeps the
  line break and the continuation's leading whitespace);
- a malformed line (no colon, no name, whitespace around the name, a continuation before any
  header, a bare CR inside a line) is a 400 with a `status`, where the e-mail parser ends the header
  block there, treats the rest as the body, or splits the line at the CR.
"""

import http.client
import io
import re
from types import SimpleNamespace

import pytest
from gevent import pywsgi
from hypothesis import example, given, settings
from hypothesis import strategies as st

from convoload.targets.lean_wsgi import MAX_HEADER_LINE, MAX_HEADERS, RequestHeaders

FUZZ = settings(max_examples=300, deadline=None)  # no timing in unit tests; the file stays fast

TCHAR = "!#$%&'*+-.^`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Any latin-1 character but the line breaks: obs-text, controls, NBSP (\xa0), NEL (\x85) included.
VALUE_CHARS = st.characters(min_codepoint=0, max_codepoint=255, exclude_characters="\r\n")
OWS = st.text(" \t", max_size=3)
EOL = st.sampled_from(["\r\n", "\n"])
FOLD = st.sampled_from([" ", "\t", "  "])  # what starts an obsolete continuation line

STATUSES = ("Line too long", f"More than {MAX_HEADERS} headers", "Continuation line before any header")


def parse(block: bytes) -> tuple[RequestHeaders, bytes]:
    """The parsed headers, and what is left unread in the stream after them."""
    rfile = io.BufferedReader(io.BytesIO(block))
    return RequestHeaders(rfile), rfile.read()


def stdlib(block: bytes):
    return pywsgi.headers_factory(io.BufferedReader(io.BytesIO(block)))


def folded(value: str) -> str:
    """The e-mail parser's raw value as ours reads it: OWS stripped, obsolete folding joined with SP."""
    return " ".join(part.strip(" \t") for part in re.split(r"\r?\n", value))


def raw_lines(data: bytes) -> list[bytes]:
    """The lines `readline` returns, each with its LF (the last one may have none)."""
    return re.findall(rb"[^\n]*\n|[^\n]+\Z", data)


@st.composite
def header_blocks(draw):
    """A well-formed header block: token names from a small pool (so duplicates are common) in mixed
    case, latin-1 values with OWS around them, obsolete foldings, CRLF or bare LF; then a body."""
    pool = draw(
        st.lists(st.text(TCHAR, min_size=1, max_size=12), min_size=1, max_size=4, unique_by=str.lower)
    )
    lines: list[str] = []
    for _ in range(draw(st.integers(0, 12))):
        name = "".join(c.upper() if draw(st.booleans()) else c.lower() for c in draw(st.sampled_from(pool)))
        value = draw(st.text(VALUE_CHARS, max_size=20))
        lines.append(f"{name}:{draw(OWS)}{value}{draw(OWS)}{draw(EOL)}")
        for continuation in draw(st.lists(st.text(VALUE_CHARS, max_size=10), max_size=2)):
            lines.append(f"{draw(FOLD)}{continuation}{draw(EOL)}")
    block = "".join(lines).encode("latin-1")
    return pool, block, draw(EOL).encode(), draw(st.binary(max_size=30))


@FUZZ
@given(header_blocks())
@example((["X"], b"X:\xa0v\xa0\r\n", b"\r\n", b""))  # NBSP is obs-text, part of the value: was stripped
@example((["X"], b"X: a\x85\x1c\r\n", b"\r\n", b""))  # ... and so were NEL and the other non-HTTP spaces
@example((["X"], b"X:\r\n \xa0b\r\n", b"\n", b"BODY"))
def test_a_well_formed_block_reads_as_the_standard_library_reads_it(case):
    pool, block, end, body = case
    ours, unread = parse(block + end + body)
    theirs = stdlib(block + end + body)
    assert ours.status == theirs.status == ""
    for name in pool:
        for spelled in (name, name.lower(), name.upper()):
            expected = theirs.get(spelled)  # the first occurrence
            assert ours.get(spelled) == (None if expected is None else folded(expected))
    assert ours.typeheader == ours.get("content-type", None)
    # The lines round-trip, line ends made CRLF ...
    assert "".join(ours.headers) == re.sub(r"\r?\n", "\r\n", block.decode("latin-1"))
    # ... and give pywsgi the same WSGI environ entries as the stock parser's lines.
    environ = list(pywsgi.WSGIHandler._headers(SimpleNamespace(headers=ours)))
    stock = list(pywsgi.WSGIHandler._headers(SimpleNamespace(headers=theirs)))
    assert environ == [(key, re.sub(r"\r?\n", "\r\n", value)) for key, value in stock]
    # Nothing past the blank line was read: the body is still in the stream.
    assert unread == body


@FUZZ
@given(header_blocks(), st.data())
def test_deleting_a_header_removes_every_occurrence_and_its_continuations(case, data):
    pool, block, end, _ = case
    ours, _ = parse(block + end)
    theirs = stdlib(block + end)
    name = data.draw(st.sampled_from(pool))
    spelled = data.draw(st.sampled_from([name, name.lower(), name.upper()]))
    if ours.get(name) is None:
        with pytest.raises(KeyError):
            del ours[spelled]
        return
    del ours[spelled]
    del theirs[spelled]
    assert ours.get(name) is None
    assert not [line for line in ours.headers if line.partition(":")[0].lower() == name.lower()]
    for other in pool:
        expected = theirs.get(other)
        assert ours.get(other) == (None if expected is None else folded(expected))
    # What stays is the other headers' lines, with their own continuations, in order.
    kept = [(key, re.sub(r"\r?\n", "\r\n", value)) for key, value in theirs.items()]
    assert list(pywsgi.WSGIHandler._headers(SimpleNamespace(headers=ours))) == [
        ("HTTP_" + key.replace("-", "_").upper(), value.strip()) for key, value in kept if "_" not in key
    ]


# Bytes an attacker would try around a header block's structure, besides arbitrary ones.
HOSTILE = st.lists(
    st.sampled_from(
        [b"\r\n", b"\n", b"\r", b":", b" ", b"\t", b"\x00", b"\xa0", b"\x85", b"X", b"x-y", b"Host: a\r\n"]
    ),
    max_size=40,
).map(b"".join)


@FUZZ
@given(st.one_of(st.binary(max_size=300), HOSTILE))
@example(b"X: a\rTransfer-Encoding: chunked\r\n\r\n")  # the e-mail parser sees two headers here
@example(b"X: a\r")
@example(b"\r\n\r\nBODY")
def test_any_bytes_give_a_status_or_well_formed_headers_and_nothing_past_the_blank_line_is_read(data):
    headers, unread = parse(data)
    consumed = raw_lines(data[: len(data) - len(unread)])
    # Reading stopped at the first blank line, or earlier: no blank line was read over.
    assert not [line for line in consumed[:-1] if line in (b"\r\n", b"\n")]
    if headers.status:
        assert headers.status in STATUSES or headers.status.startswith("Invalid header line")
        return
    # Parsed: the lines read are the lines kept (with CRLF ends), up to and including a blank line or EOF.
    if consumed and consumed[-1] in (b"\r\n", b"\n"):
        consumed.pop()
    else:
        assert unread == b""
    assert headers.headers == [line.decode("latin-1").rstrip("\r\n") + "\r\n" for line in consumed]
    assert len(headers.headers) <= MAX_HEADERS
    for i, line in enumerate(headers.headers):
        assert "\r" not in line[:-2] and "\n" not in line[:-2]
        if line[0] in " \t":
            assert i > 0
            continue
        name, colon, _ = line.partition(":")
        assert colon and name and name == name.strip()
        assert headers.get(name) is not None


@settings(max_examples=40, deadline=None)
@given(st.integers(MAX_HEADER_LINE - 4, MAX_HEADER_LINE + 4), EOL, st.integers(0, 5))
def test_a_line_is_too_long_exactly_when_http_client_says_so(length, eol, position):
    long_line = b"X-Long: " + b"a" * (length - len(eol) - 8) + eol.encode()
    assert len(long_line) == length
    lines = [b"H-%d: v\r\n" % i for i in range(5)]
    lines.insert(position, long_line)
    headers, _ = parse(b"".join(lines) + b"\r\nBODY")
    too_long = length > MAX_HEADER_LINE
    assert (headers.status == "Line too long") is too_long
    assert (stdlib(b"".join(lines) + b"\r\nBODY").status == "Line too long") is too_long
    if not too_long:
        assert headers.get("x-long") == "a" * (length - len(eol) - 8)


@settings(max_examples=40, deadline=None)
@given(st.integers(MAX_HEADERS - 3, MAX_HEADERS + 3), st.data())
def test_more_than_max_headers_lines_are_refused(count, data):
    # Continuation lines count as lines, in http.client as here; http.client also counts the blank
    # line that ends the block, so it refuses one line earlier (a difference of no consequence).
    lines = [b" folded\r\n" if i and data.draw(st.booleans()) else b"H-%d: v\r\n" % i for i in range(count)]
    block = b"".join(lines) + b"\r\n"
    headers, unread = parse(block + b"BODY")
    too_many = count > MAX_HEADERS
    assert (headers.status == f"More than {MAX_HEADERS} headers") is too_many
    try:
        stdlib(block)
        stdlib_refused = False
    except http.client.HTTPException:  # "got more than 100 headers": stock pywsgi lets it out
        stdlib_refused = True
    assert stdlib_refused is (count >= MAX_HEADERS)
    if not too_many:
        assert unread == b"BODY"
        assert len(headers.headers) == count
