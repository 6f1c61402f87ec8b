"""Secrets read from the environment never reach a record, a report, the store, the terminal or a log,
in whatever encoding a target echoes them back: JSON-escaped, URL-encoded, base64, HTML-escaped."""

import base64
import html
import json
import logging
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, quote_plus

import markupsafe
import pytest

from convoload.envsecrets import redact, redact_json, redact_snippet, redact_value, secret_from_env
from convoload.events import ReplyReceived
from convoload.targets.base import TargetReply, redact_reply

# Each with characters that some encoding changes: quotes, backslash, slash, plus, equals, spaces,
# HTML's specials, non-ASCII (and one outside the BMP: a surrogate pair in JSON's \u escapes).
SECRETS = {
    "CONVOLOAD_T_QUOTES": 'pä"ss\\wörd/+= x',
    "CONVOLOAD_T_HTML": "tok'en\"<&>/+=:ü🔑 x",
    "CONVOLOAD_T_BASE64ISH": "ab+/cd==ef gh/ij",
}
E2E_SECRET_NAME = "CONVOLOAD_E2E_SECRET"
E2E_SECRET = 'sk-"live"\\Zé/9+Q= tail'
BASE64_PREFIXES = ("", "x", "u:", "us:", "user:", "Bearer ")  # every offset in a 3-byte group


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def secret_only_base64(prefix: str, secret: str) -> str:
    """The characters of base64(prefix + secret) whose 6 bits all come from the secret's bytes."""
    lead, raw = len(prefix.encode()), secret.encode()
    encoded = _b64(prefix.encode() + raw)
    return encoded[-(-8 * lead // 6) : 8 * (lead + len(raw)) // 6]


def encodings(secret: str) -> dict[str, str]:
    """The secret as targets, libraries and our own writers may spell it."""
    as_json = json.dumps(secret)[1:-1]
    raw = secret.encode()
    forms = {
        "exact": secret,
        "json.dumps": as_json,
        "json.dumps ensure_ascii=False": json.dumps(secret, ensure_ascii=False)[1:-1],
        "json.dumps twice": json.dumps(as_json)[1:-1],
        "json with \\/": as_json.replace("/", "\\/"),
        "json with upper-case \\u": re.sub(r"\\u([0-9a-f]{4})", lambda m: "\\u" + m[1].upper(), as_json),
        "repr": repr(secret)[1:-1],
        "html.escape": html.escape(secret),
        "markupsafe": str(markupsafe.escape(secret)),
        "json in html": str(markupsafe.escape(as_json)),
        "csv": secret.replace('"', '""'),
        "json in csv": as_json.replace('"', '""'),
        "quote": quote(secret),
        "quote safe=''": quote(secret, safe=""),
        "quote_plus": quote_plus(secret),
        "quote_plus safe=''": quote_plus(secret, safe=""),
        "quote, lower-case hex": re.sub("%[0-9A-F]{2}", lambda m: m[0].lower(), quote(secret, safe="")),
        "base64": _b64(raw),
        "base64 unpadded": _b64(raw).rstrip("="),
        "base64 url-safe": base64.urlsafe_b64encode(raw).decode(),
        "base64 url-safe unpadded": base64.urlsafe_b64encode(raw).decode().rstrip("="),
        "base64 percent-encoded": quote(_b64(raw), safe=""),
        "base64 json-escaped": json.dumps(_b64(raw)).replace("/", "\\/")[1:-1],
    }
    for prefix in BASE64_PREFIXES[1:]:
        core = secret_only_base64(prefix, secret)
        forms[f"base64 after {prefix!r}"] = core
        forms[f"base64 url-safe after {prefix!r}"] = core.translate(str.maketrans("+/", "-_"))
    return forms


def leaks(text: str, secret: str) -> list[str]:
    return [name for name, form in encodings(secret).items() if form in text]


@pytest.fixture(autouse=True)
def known_secrets(monkeypatch):
    for name, value in {**SECRETS, E2E_SECRET_NAME: E2E_SECRET}.items():
        monkeypatch.setenv(name, value)
        assert secret_from_env(name) == value


# Every encoding that differs from the secret itself (the exact form was redacted before).
ENCODED = [
    pytest.param(secret, name, id=f"{env}-{name}")
    for env, secret in SECRETS.items()
    for name, form in encodings(secret).items()
    if secret not in form
]


@pytest.mark.parametrize(("secret", "encoding"), ENCODED)
def test_every_encoding_of_a_secret_is_redacted(secret, encoding):
    form = encodings(secret)[encoding]
    for text in (f"<<{form}>>", f"header: {form}", form):
        out = redact(text)
        assert "***" in out and leaks(out, secret) == [], (encoding, out)
    assert redact(f"<<{form}>>").startswith("<<")  # what is not the secret stays


@pytest.mark.parametrize("prefix", BASE64_PREFIXES)
def test_a_secret_base64_encoded_inside_a_longer_value_is_cut_out(prefix):
    secret = SECRETS["CONVOLOAD_T_QUOTES"]
    value = _b64(f"{prefix}{secret}".encode())
    out = redact(f"Authorization: Basic {value}")
    core = secret_only_base64(prefix, secret)
    assert value not in out and core not in out and "***" in out
    assert out.startswith("Authorization: Basic ")
    # What is left decodes to the prefix and at most a few bits of the secret, never its text.
    left = out.removeprefix("Authorization: Basic ").split("***")[0]
    decoded = base64.b64decode(left[: len(left) // 4 * 4] or "").decode("utf-8", "replace")
    assert secret[:3] not in decoded


def test_short_values_and_ordinary_text_are_left_alone(monkeypatch):
    monkeypatch.setenv("CONVOLOAD_T_SHORT", 'a"b')
    secret_from_env("CONVOLOAD_T_SHORT")
    text = 'say "a\\"b" to a"b, and https://pay.example/pix/cGF5bWVudA== ok'
    assert redact(text) is text  # nothing to redact: the very same object, no copy
    json_twice = json.dumps(json.dumps(SECRETS["CONVOLOAD_T_HTML"]))
    assert redact(json_twice) == '"\\"***\\""'


def test_structures_are_redacted_in_keys_and_values_without_touching_the_original():
    secret = SECRETS["CONVOLOAD_T_QUOTES"]
    raw = {
        "reply": "ok",
        "echo": {"headers": [("Authorization", f"Bearer {json.dumps(secret)}")]},
        quote(secret): 3,
        "n": 1.5,
    }
    clean = redact_value(raw)
    assert clean is not raw and leaks(json.dumps(clean), secret) == []
    assert clean["echo"]["headers"][0][0] == "Authorization" and clean["n"] == 1.5 and 3 in clean.values()
    assert quote(secret) in raw  # the caller's document is theirs
    untouched = {"reply": "nothing secret", "items": [1, {"a": "b"}]}
    assert redact_value(untouched) is untouched


def test_serialised_json_is_redacted_and_stays_valid():
    secret = SECRETS["CONVOLOAD_T_HTML"]
    line = json.dumps({"reply": f"you sent {json.dumps({'auth': secret})}", "b64": _b64(secret.encode())})
    clean = redact_json(line.encode())
    assert leaks(clean.decode(), secret) == [] and set(json.loads(clean)) == {"reply", "b64"}
    same = b'{"reply": "fine"}'
    assert redact_json(same) is same


def test_a_snippet_never_shows_the_beginning_of_a_secret_it_cuts():
    secret = SECRETS["CONVOLOAD_T_QUOTES"]
    body = ("x" * 186 + json.dumps({"echo": secret})).encode()  # the secret starts at 196
    snippet = redact_snippet(body, 200)
    assert len(snippet) <= 200 and snippet.startswith("x" * 186 + '{"echo": "')
    assert "p\\u0" not in snippet


def test_a_reply_split_over_callbacks_is_redacted_in_every_message_document_and_agent_name():
    secret = SECRETS["CONVOLOAD_T_HTML"]
    callbacks = [
        {"text": f"got {json.dumps({'auth': secret})}", "final": False},
        {"text": "done", "final": True},
    ]
    messages = [c["text"] for c in callbacks]
    reply = TargetReply("\n\n".join(messages), messages, agent=f"router {quote(secret)}", raw=callbacks)
    assert redact_reply(reply) is reply
    assert leaks(json.dumps([reply.text, reply.messages, reply.agent, reply.raw]), secret) == []
    assert reply.messages[1] == "done" and reply.raw[1] == {"text": "done", "final": True}
    assert reply.text == "\n\n".join(reply.messages) and reply.agent == "router ***"


def test_log_records_are_scrubbed_messages_and_tracebacks(caplog):
    secret = SECRETS["CONVOLOAD_T_QUOTES"]
    log = logging.getLogger("convoload.tests.redaction")
    with caplog.at_level(logging.INFO):
        log.info("target said %s", json.dumps({"auth": secret}))
        try:
            raise ValueError(f"bad token {quote_plus(secret)}")
        except ValueError:
            log.exception("call failed")
    assert "target said" in caplog.text and "ValueError: bad token ***" in caplog.text
    assert leaks(caplog.text, secret) == []


# -- a whole run: an agent that echoes the Authorization header back in every encoding --------------


def echo_raw_hook(event, report):
    """A user's hook that quotes the raw reply in a finding, and breaks once with the secret in its error."""
    if isinstance(event, ReplyReceived):
        report("raw reply", iteration=event.turn.iteration, raw=event.raw)
        if event.turn.iteration == 1:
            raise RuntimeError(f"hook broke on {os.environ[E2E_SECRET_NAME]}")


def echo_authorization(environ, body):
    auth = environ["HTTP_AUTHORIZATION"]  # "Bearer <secret>"
    secret = auth.removeprefix("Bearer ")
    iteration = int(json.loads(body)["iteration"])
    if iteration == 1:  # JSON-escaped in the body (ensure_ascii), the secret itself once parsed
        return 200, {"reply": f"Você mandou {auth}", "agent": "echo", "debug": {"authorization": auth}}
    if iteration == 2:  # JSON-escaped inside the parsed text
        headers = json.dumps({"Authorization": auth})
        return 200, {"reply": f"headers: {headers}", "agent": f"echo {secret}", "debug": headers}
    if iteration == 3:  # URL-encoded, in a reply that reads like an error (a built-in hook quotes it)
        retry = f"https://agent.example/retry?auth={quote(auth, safe='')}&t={quote_plus(secret)}"
        return 200, {"reply": f"internal error, try {retry}", "agent": f"agent-{quote(secret)}"}
    if iteration == 4:  # base64: alone, in HTTP Basic, in an encoded Bearer header
        basic, bearer = _b64(f"user:{secret}".encode()), _b64(auth.encode())
        return 200, {"reply": f"basic {basic} bearer {bearer} raw {_b64(secret.encode())}", "agent": "b64"}
    return 500, {"error": "internal", "echo": auth}  # the error message quotes the body


@pytest.mark.e2e
def test_a_run_against_an_agent_echoing_the_secret_writes_it_nowhere(tmp_path, local_app):
    app = local_app(echo_authorization)
    runs = tmp_path / "runs"
    config = {
        "run": {"conversations": 2, "concurrency": 2, "max_iterations": 5, "seed": 3, "runs_dir": str(runs)},
        "target": {
            "type": "http",
            "url": f"{app.url}/chat",
            "headers": {"Authorization": f"Bearer {{env.{E2E_SECRET_NAME}}}"},
            "body": {"session_id": "{session_id}", "text": "{text}", "iteration": "{iteration}"},
            "reply_path": "reply",
            "agent_path": "agent",
        },
        "user": {"type": "fixed", "scripts": [["oi", "quero ingressos", "repete?", "e agora?", "tchau"]]},
        "goal": {"type": "regex", "pattern": "never-[0-9]{40}"},
        "hooks": {"custom": ["tests.security.test_redaction:echo_raw_hook"]},
    }
    path = tmp_path / "convoload.yaml"
    path.write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
    env = {
        "PATH": "/usr/bin:/bin",
        "COLUMNS": "2000",  # no wrapped line hides a secret from the check
        E2E_SECRET_NAME: E2E_SECRET,
    }
    repo = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-m", "convoload", "run", "-f", str(path), "--transcript"],
        capture_output=True,
        text=True,
        cwd=repo,
        env=env,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr + result.stdout

    # The agent did get the secret and echoed it every way; the run saw all of it.
    assert all(b'"iteration":' in body for _, body in app.requests) and len(app.requests) == 10
    assert "hook echo_raw_hook failed" in result.stderr  # the log line with the secret's traceback
    assert "Você mandou Bearer ***" in result.stdout  # the live transcript
    assert leaks(result.stdout, E2E_SECRET) == [] and leaks(result.stderr, E2E_SECRET) == []

    (run_dir,) = [p for p in runs.iterdir() if p.is_dir()]
    names = {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file()}
    expected = {"journal.jsonl", "run.json", "aggregate.json", "conversations.csv", "report.html"}
    assert expected <= names and sum(n.startswith("conversations/") for n in names) == 2
    assert "HTTP 500: " in (run_dir / "conversations.csv").read_text()  # the error, redacted
    for name in sorted(names):
        text = (run_dir / name).read_text(encoding="utf-8")
        assert leaks(text, E2E_SECRET) == [], name

    journal = [json.loads(line) for line in (run_dir / "journal.jsonl").read_text().splitlines()]
    for conversation in journal:
        turns = conversation["turns"]
        assert len(turns) == 5 and turns[0]["reply_text"] == "Você mandou Bearer ***"
        assert turns[4]["error"]["kind"] == "http_status" and "***" in turns[4]["error"]["message"]
        assert any(f["hook"] == "echo_raw_hook" for f in conversation["findings"])

    database = sqlite3.connect(runs / "results.sqlite")
    try:
        tables = [t for (t,) in database.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        rows = 0
        for table in tables:
            for row in database.execute(f'SELECT * FROM "{table}"'):
                rows += 1
                text = " ".join(v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in row)
                assert leaks(text, E2E_SECRET) == [], (table, text[:200])
        turn_texts = [text for (text,) in database.execute("SELECT reply_text FROM turns")]
    finally:
        database.close()
    assert {"runs", "conversations", "turns", "findings"} <= set(tables) and rows > 10
    assert "Você mandou Bearer ***" in turn_texts
