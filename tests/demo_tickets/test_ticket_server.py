"""End-to-end tests of the demo ticket server, run as a real subprocess on loopback."""

from __future__ import annotations

import socket
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from validate_docbr import CPF

from convoload_demo.tickets import TicketAssistant
from convoload_demo.tickets.__main__ import build_parser, settings_from_args
from convoload_demo.tickets.launcher import DemoTicketServer
from convoload_demo.tickets.settings import TicketServerSettings

from .helpers import CallbackReceiver

CALLBACK_KEYS = {
    "clientIdentifier",
    "channelId",
    "messageId",
    "inReplyTo",
    "text",
    "agent",
    "final",
    "createdAt",
}


def widget_body(receiver: CallbackReceiver, text: str, client: str, channel: str = "site") -> dict[str, str]:
    return {"text": text, "channelId": channel, "clientIdentifier": client, "webhook": receiver.url}


def new_client() -> str:
    return f"client-{uuid.uuid4().hex[:8]}"


@pytest.mark.e2e
def test_health(server: DemoTicketServer, http: httpx.Client) -> None:
    response = http.get(server.health_url)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and isinstance(body["sessions"], int)


@pytest.mark.e2e
def test_widget_acks_at_once_then_calls_back(
    server: DemoTicketServer, http: httpx.Client, receiver: CallbackReceiver
) -> None:
    client = new_client()
    started = time.monotonic()
    response = http.post(server.widget_url, json=widget_body(receiver, "Oi!", client, channel="whatsapp"))
    assert response.status_code == 202
    ack = response.json()
    assert ack["status"] == "queued"
    uuid.UUID(ack["messageId"])
    receiver.assert_empty()  # the ack came back before the reply, which the server sends 0.4 s later

    callback = receiver.get(timeout=5)
    arrived = time.monotonic() - started
    assert arrived >= 0.35
    payload = {k: v for k, v in callback.payload.items() if k != "_status"}
    assert set(payload) == CALLBACK_KEYS
    assert callback.path == "/hook"
    assert payload["clientIdentifier"] == client
    assert payload["channelId"] == "whatsapp"
    assert payload["inReplyTo"] == ack["messageId"]
    assert payload["messageId"] != ack["messageId"]
    uuid.UUID(payload["messageId"])
    assert payload["agent"] == "atendimento"
    assert payload["final"] is True
    assert "aceita" in payload["text"] and "promoções" in payload["text"]
    assert "\n\n" in payload["text"]  # joined mode: greeting and question in one callback
    created = datetime.fromisoformat(payload["createdAt"].replace("Z", "+00:00"))
    assert created.utcoffset() is not None and created.utcoffset().total_seconds() == 0
    assert abs((datetime.now(UTC) - created).total_seconds()) < 60
    receiver.assert_empty()


@pytest.mark.e2e
def test_split_mode_sends_each_message_in_order(
    split_server: DemoTicketServer, http: httpx.Client, receiver: CallbackReceiver
) -> None:
    client = new_client()
    text = "Olá! Onde fica o parque e quanto custa?"
    expected = TicketAssistant().reply("x", text).messages
    assert len(expected) == 4  # greeting, location, prices, opt-in

    ack = http.post(split_server.widget_url, json=widget_body(receiver, text, client)).json()
    callbacks = receiver.collect_until_final(1)
    assert [cb.payload["text"] for cb in callbacks] == expected
    assert [cb.payload["final"] for cb in callbacks] == [False, False, False, True]
    assert {cb.payload["inReplyTo"] for cb in callbacks} == {ack["messageId"]}
    assert len({cb.payload["messageId"] for cb in callbacks}) == 4


@pytest.mark.e2e
def test_replies_keep_request_order_per_client(
    split_server: DemoTicketServer, http: httpx.Client, receiver: CallbackReceiver
) -> None:
    client = new_client()
    script = ["oi", "sim", "quero ingressos para 11/10", "2 adultos e 1 criança"]
    acks = [
        http.post(split_server.widget_url, json=widget_body(receiver, text, client)).json()["messageId"]
        for text in script
    ]
    callbacks = receiver.collect_until_final(len(script))
    order = [cb.payload["inReplyTo"] for cb in callbacks]
    # Grouped by request, in the order the requests were sent.
    assert [ack for i, ack in enumerate(order) if i == 0 or order[i - 1] != ack] == acks

    local = TicketAssistant()
    expected = [m for text in script for m in local.reply("x", text).messages]
    assert [cb.payload["text"] for cb in callbacks] == expected


@pytest.mark.e2e
def test_full_widget_conversation_reaches_payment_link(
    split_server: DemoTicketServer, http: httpx.Client, receiver: CallbackReceiver
) -> None:
    client = new_client()
    cpf = CPF().generate(mask=True)
    script = [
        "Oi, quero ingressos",
        "sim",
        "11/10/2026",
        "2 adultos e 2 crianças",
        "quero a cabana",
        f"Maria Oliveira, {cpf}, (48) 99876-5432, maria@example.com",
        "pix",
    ]
    last_agent = ""
    texts: list[str] = []
    for text in script:
        http.post(split_server.widget_url, json=widget_body(receiver, text, client)).raise_for_status()
        callbacks = receiver.collect_until_final(1)
        texts += [cb.payload["text"] for cb in callbacks]
        last_agent = callbacks[-1].payload["agent"]
    assert last_agent == "pagamento"
    assert "https://pay.example.com/pix/" in texts[-1]
    assert any("Total: R$ 460,00" in t for t in texts[-2:])
    assert not any("http" in t for t in texts[:-1])


@pytest.mark.e2e
def test_chat_endpoint(server: DemoTicketServer, http: httpx.Client) -> None:
    session = new_client()
    started = time.monotonic()
    response = http.post(server.chat_url, json={"session_id": session, "text": "Hi, I want tickets"})
    assert time.monotonic() - started >= 0.35  # same simulated delay as the widget
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"reply", "messages", "agent", "done"}
    assert body["reply"] == "\n\n".join(body["messages"])
    assert body["agent"] == "atendimento" and body["done"] is False
    assert "accept" in body["reply"]

    body = http.post(server.chat_url, json={"session_id": session, "text": "yes"}).json()
    assert "date" in body["reply"] and body["agent"] == "vendas"


@pytest.mark.e2e
def test_chat_and_health_count_sessions(server: DemoTicketServer, http: httpx.Client) -> None:
    before = http.get(server.health_url).json()["sessions"]
    http.post(server.chat_url, json={"session_id": new_client(), "text": "oi"}).raise_for_status()
    assert http.get(server.health_url).json()["sessions"] == before + 1


_OK = {"text": "oi", "channelId": "c", "clientIdentifier": "u", "webhook": "http://127.0.0.1:1/h"}


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"text": None}, "text"),
        ({"text": ""}, "text"),
        ({"text": "  "}, "text"),
        ({"text": 42}, "text"),
        ({"channelId": None}, "channelId"),
        ({"clientIdentifier": ""}, "clientIdentifier"),
        ({"webhook": None}, "webhook"),
        ({"webhook": "ftp://127.0.0.1/h"}, "webhook"),
        ({"webhook": "not a url"}, "webhook"),
    ],
)
def test_widget_rejects_bad_bodies(
    server: DemoTicketServer, http: httpx.Client, changes: dict[str, object], field: str
) -> None:
    body = {k: v for k, v in {**_OK, **changes}.items() if v is not None}  # None = field missing
    response = http.post(server.widget_url, json=body)
    assert response.status_code == 422
    assert field in response.json()["message"]


@pytest.mark.e2e
def test_bad_json_and_bad_chat_bodies(server: DemoTicketServer, http: httpx.Client) -> None:
    headers = {"Content-Type": "application/json"}
    response = http.post(server.widget_url, content=b"{not json", headers=headers)
    assert response.status_code == 422
    response = http.post(server.chat_url, json={"text": "oi"})
    assert response.status_code == 422 and "session_id" in response.json()["message"]


@pytest.mark.e2e
def test_oversized_body_is_413(
    split_server: DemoTicketServer, http: httpx.Client, receiver: CallbackReceiver
) -> None:
    # split_server allows 2000 bytes.
    big = widget_body(receiver, "oi " * 1000, new_client())
    assert http.post(split_server.widget_url, json=big).status_code == 413
    assert http.post(split_server.chat_url, json={"session_id": "s", "text": "x" * 3000}).status_code == 413

    def chunks() -> object:
        yield b'{"session_id": "s", "text": "'
        for _ in range(10):
            yield b"y" * 500
        yield b'"}'

    # No Content-Length (chunked upload): the limit still applies while streaming.
    assert http.post(split_server.chat_url, content=chunks()).status_code == 413  # type: ignore[arg-type]
    small = widget_body(receiver, "oi " * 100, new_client())
    assert http.post(split_server.widget_url, json=small).status_code == 202
    receiver.collect_until_final(1)


@pytest.mark.e2e
def test_failed_callback_is_retried(
    server: DemoTicketServer, http: httpx.Client, receiver: CallbackReceiver
) -> None:
    receiver.fail_next = 2
    http.post(server.widget_url, json=widget_body(receiver, "oi", new_client())).raise_for_status()
    attempts = [receiver.get(timeout=5) for _ in range(3)]
    assert [a.payload["_status"] for a in attempts] == [500, 500, 200]
    assert len({a.payload["messageId"] for a in attempts}) == 1  # same callback, redelivered


@pytest.mark.e2e
def test_unreachable_webhook_does_not_break_the_server(
    server: DemoTicketServer, http: httpx.Client, receiver: CallbackReceiver
) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead_port = sock.getsockname()[1]
    dead = {
        "text": "oi",
        "channelId": "c",
        "clientIdentifier": new_client(),
        "webhook": f"http://127.0.0.1:{dead_port}/hook",
    }
    assert http.post(server.widget_url, json=dead).status_code == 202
    client = new_client()
    assert http.post(server.widget_url, json=widget_body(receiver, "oi", client)).status_code == 202
    assert receiver.get(timeout=5).payload["clientIdentifier"] == client
    assert http.get(server.health_url).json()["status"] == "ok"


@pytest.mark.e2e
def test_launcher_reports_startup_failure() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        launcher = DemoTicketServer(TicketServerSettings(), port=port, startup_timeout_s=20)
        with pytest.raises(RuntimeError, match="cannot bind"):
            launcher.start()
        assert launcher.pid is None  # cleaned up


@pytest.mark.e2e
@pytest.mark.skipif(sys.platform == "win32", reason="uses a POSIX shell script as fake interpreter")
def test_launcher_times_out_and_reports_stderr(tmp_path: Path) -> None:
    fake = tmp_path / "fake-python"
    fake.write_text("#!/bin/sh\necho hello\necho still booting >&2\nexec sleep 30\n")
    fake.chmod(0o755)
    launcher = DemoTicketServer(startup_timeout_s=0.5, python=str(fake))
    with pytest.raises(RuntimeError, match="still booting"):
        launcher.start()
    assert launcher.pid is None


@pytest.mark.e2e
def test_server_stops_on_exit(http: httpx.Client) -> None:
    with DemoTicketServer(TicketServerSettings(reply_delay_s=0, jitter_s=0)) as srv:
        url = srv.health_url
        proc = srv._proc
        assert http.get(url).status_code == 200
    assert proc is not None and proc.poll() is not None
    with pytest.raises(httpx.TransportError):
        http.get(url, timeout=2)


def test_cli_flags_round_trip() -> None:
    from datetime import date

    settings = TicketServerSettings(
        reply_delay_s=0.5,
        jitter_s=0.25,
        split_messages=True,
        seed=3,
        closed_dates=frozenset({date(2026, 10, 1)}),
        max_body_bytes=1234,
    )
    parsed = settings_from_args(build_parser().parse_args(settings.cli_args()))
    assert parsed == settings
    defaults = settings_from_args(build_parser().parse_args([]))
    assert defaults == TicketServerSettings()
