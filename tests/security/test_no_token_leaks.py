"""No callback token (nor the receiver's secret) in anything we write or log, nor in the bundled agents' logs.

A callback URL is a capability: whoever reads it can answer that turn. Our run folder, results store
and logs are read by many (CI artefacts, dashboards, shared disks), so a token must never reach them,
even when the agent echoes its callback URL back: in a reply's text, in the callback document, in an
error answer that quotes the request (JSON-escaped, as PHP and some Java encoders write `\\/`).
"""

import io
import json
import logging
import re
import socket
import time
import uuid
from urllib.parse import urlsplit

import gevent
import httpx
import pytest
from gevent.pywsgi import WSGIServer
from rich.console import Console

from convoload.config import Config
from convoload.load.context import RunContext
from convoload.load.engine import run_load
from convoload.report.console import print_summary
from convoload.report.html import write_html_report
from convoload.targets.receiver import WebhookReceiver
from convoload_demo.faulty import FaultyServer, FaultyServerSettings
from convoload_demo.tickets.launcher import DemoTicketServer
from convoload_demo.tickets.settings import TicketServerSettings

TOKEN_IN_URL = re.compile(r"/cb/([^/]+)/")


class EchoingAgent:
    """A webhook agent that repeats its callback URL everywhere it can.

    Turn 1: the reply text quotes the callback URL and the callback document carries the request it
    answers. Turn 2: a payment link (the goal). The conversation named by `failing_session` gets an
    HTTP 422 on turn 2 whose body quotes the request with JSON-escaped slashes (the error message
    convoload records quotes that answer).
    """

    def __init__(self) -> None:
        self.webhooks: list[str] = []
        self.failing_session: str | None = None
        self.server = WSGIServer(("127.0.0.1", 0), self._app, log=None, error_log=None)
        self.server.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self._turns: dict[str, int] = {}

    def _app(self, environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        request = json.loads(body)
        self.webhooks.append(request["webhook"])
        session = request["session_id"]
        turn = self._turns[session] = self._turns.get(session, 0) + 1
        if self.failing_session is None:
            self.failing_session = session
        if turn == 2 and session == self.failing_session:
            quoted = json.dumps({"error": "invalid request", "input": request}).replace("/", "\\/")
            start_response("422 Unprocessable Entity", [("Content-Type", "application/json")])
            return [quoted.encode()]
        gevent.spawn(self._call_back, request, turn)
        start_response("202 Accepted", [("Content-Type", "application/json")])
        return [json.dumps({"queued": True, "webhook": request["webhook"]}).encode()]

    def _call_back(self, request: dict, turn: int) -> None:
        url = request["webhook"]
        if turn == 1:
            text = f"Anotado! Vou responder em {url} assim que puder."
        else:
            text = "Pronto: https://pay.example.com/pix/123"
        document = {"text": text, "messageId": uuid.uuid4().hex, "request": request, "replyTo": url}
        httpx.post(url, json=document, timeout=10)

    def stop(self) -> None:
        self.server.stop(timeout=1)


@pytest.fixture
def agent():
    a = EchoingAgent()
    yield a
    a.stop()


def test_a_real_webhook_run_writes_and_logs_no_callback_token(tmp_path, agent, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    config = Config.model_validate(
        {
            "run": {"seed": 5, "max_iterations": 3, "runs_dir": str(tmp_path / "runs")},
            "user": {"type": "fixed", "scripts": [["oi", "pix por favor", "obrigado"]]},
            "llm": {"providers": [{"name": "unused", "model": "m", "base_url": "http://127.0.0.1:9/v1"}]},
            "target": {"type": "webhook", "url": agent.url, "timeout_s": 5},
            # Not the default (any link): the echoed callback URL is a link too.
            "goal": {"type": "regex", "pattern": "pay\\.example\\.com"},
        }
    )
    context = RunContext(config)
    receiver: WebhookReceiver = context.target.receiver
    try:
        # A request pywsgi refuses (an HTTP version it does not know): its complaint quotes the request line.
        with socket.create_connection(("127.0.0.1", receiver.port), timeout=5) as sock:
            path = urlsplit(receiver.callback_url("probe", 1)).path
            sock.sendall(f"POST {path} HTTP/7.1\r\n\r\n".encode())
            assert sock.recv(1024).startswith(b"HTTP/1.1 400")
        result = run_load(context, 4, 2)
        document = context.aggregate()
    finally:
        context.close()
    console = Console(record=True, width=240, file=io.StringIO())
    print_summary(console, document, result.stats)
    write_html_report(context.run_dir)

    tokens = {TOKEN_IN_URL.search(url).group(1) for url in agent.webhooks}
    assert len(agent.webhooks) >= 8  # 4 conversations, 2 or 3 turns each
    secret = receiver.tokens._key.decode()
    written = {
        path: path.read_bytes()
        for path in [*context.run_dir.rglob("*"), *context.runs_dir.glob("results.sqlite*")]
        if path.is_file()
    }
    assert any(p.suffix == ".sqlite" for p in written) and any(p.name == "report.html" for p in written)
    captured = capfd.readouterr()
    texts = {
        # Ours, and Locust's (it logs failures): the agent's own client (httpx) is the test's.
        "logs": "\n".join(
            r.getMessage() for r in caplog.records if r.name.startswith(("convoload", "locust"))
        ),
        "stdout": captured.out,
        "stderr": captured.err,
        "console": console.export_text(),
    }
    for token in [*tokens, secret]:
        for path, data in written.items():
            assert token.encode() not in data, f"{token} in {path}"
        for name, text in texts.items():
            assert token not in text, f"{token} in {name}"
    assert len(tokens) == len(agent.webhooks)  # one capability per turn
    # The agent did echo its URLs, and what was kept is the masked form: the test saw real echoes.
    journal = (context.run_dir / "journal.jsonl").read_text(encoding="utf-8")
    assert "/cb/***/" in journal and "cb\\\\/***\\\\/" in journal  # reply text; the 422's quoted request
    assert "HTTP 422" in journal and "cb/***/" in texts["logs"]  # the refused request line, redacted


def wait_for(predicate, timeout_s: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        gevent.sleep(0.05)


@pytest.mark.e2e
def test_the_bundled_agents_log_callback_urls_with_the_token_masked():
    """The ticket agent warns about a refused callback, the faulty agent about a failed one: the URL in
    their log lines has its token masked."""
    receiver = WebhookReceiver().start()
    with socket.socket() as probe:  # a port where nothing listens: the faulty agent's callback fails
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    try:
        gone = receiver.callback_url("sess-tickets", 1)  # no turn waits for it: 404, the agent drops it
        token = TOKEN_IN_URL.search(gone).group(1)
        dead = f"http://127.0.0.1:{dead_port}/cb/{token}/sess-faulty/1"
        message = {"text": "oi", "channelId": "c", "clientIdentifier": "sess-tickets", "webhook": gone}
        with DemoTicketServer(TicketServerSettings(reply_delay_s=0.0, jitter_s=0.0)) as tickets:
            assert httpx.post(tickets.widget_url, json=message, timeout=10).status_code == 202
            wait_for(
                lambda: "rejected with HTTP 404" in tickets.stderr_text(), what="the ticket agent's warning"
            )
            tickets_log = tickets.stderr_text()
        with FaultyServer(FaultyServerSettings()) as faulty:
            message |= {"clientIdentifier": "sess-faulty", "webhook": dead}
            assert httpx.post(faulty.widget_url, json=message, timeout=10).status_code == 202
            faulty.flush()
            faulty_log = faulty.stderr_text()
    finally:
        receiver.stop()
    assert "/cb/***/sess-tickets/1" in tickets_log and token not in tickets_log
    assert "/cb/***/sess-faulty/1" in faulty_log and token not in faulty_log
