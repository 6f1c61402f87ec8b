"""convoload plays the WhatsApp Cloud API for a real pywa bot (examples/bots/whatsapp) on loopback: webhooks
in the Cloud API's shape and signature, button taps as interactive replies, the Graph endpoint's answers
and errors, faults counted."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import httpx
import pytest

from convoload import api
from convoload.config import load_config
from convoload.errors import ConfigError
from convoload.model import ErrorKind, Outcome
from convoload.platforms.base import PlatformTarget
from convoload.platforms.wiring import build_platform_target
from tests.helpers import free_port, invoke, journal_lines
from tests.platforms.conftest import config_file

SECRETS = {
    "WA_APP_SECRET": "app-secret-for-tests",
    "WA_TOKEN": "EAAtoken-for-tests",
    "WA_VERIFY_TOKEN": "vt-42",
}
PHONE_ID = "106540352242922"
SCRIPT = ["Oi", "Agendar visita", "Amanhã 10h", "ana@example.com", "Confirmar"]


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)


def _config(
    tmp_path: Path,
    bot_port: int,
    graph_port: int,
    *,
    conversations: int = 1,
    extra: str = "",
    verify: bool = True,
) -> Path:
    verify_token = ", verify_token_env: WA_VERIFY_TOKEN" if verify else ""
    return config_file(
        tmp_path,
        f"""
run: {{conversations: {conversations}, concurrency: {conversations}, max_iterations: 8, seed: 7,
      runs_dir: "{tmp_path / "runs"}"}}
user: {{type: fixed, scripts: [{json.dumps(SCRIPT, ensure_ascii=False)}]}}
goal: {{type: regex, pattern: "Agendamento confirmado"}}
target:
  type: whatsapp
  url: http://127.0.0.1:{bot_port}/webhook
  timeout_s: 20
  quiet_period_s: 0.3
  receiver: {{port: {graph_port}}}
  platform:
    {extra}
    whatsapp: {{app_secret_env: WA_APP_SECRET, access_token_env: WA_TOKEN{verify_token}}}
""",
    )


def _bot(start_bot, graph_port: int, **overrides: str):
    env = {**SECRETS, "WA_PHONE_ID": PHONE_ID, "WA_GRAPH_URL": f"http://127.0.0.1:{graph_port}", **overrides}
    return start_bot("whatsapp", **env)


@pytest.mark.e2e
def test_a_persona_books_a_visit_through_buttons_a_list_and_text(tmp_path, start_bot):
    graph_port = free_port()
    _, bot_port = _bot(start_bot, graph_port)
    report = api.run(_config(tmp_path, bot_port, graph_port))

    [record] = journal_lines(next((tmp_path / "runs").glob("*/journal.jsonl")))
    assert record.outcome == Outcome.GOAL_REACHED, record.turns[-1].error
    first, menu, slots, email, confirm = record.turns
    # The phone shows both messages of the greeting, the buttons as their labels.
    assert len(first.reply_messages) == 2
    assert (
        "[Agendar visita]" in first.reply_messages[1] and "[Falar com atendente]" in first.reply_messages[1]
    )
    assert "[Amanhã 10h]" in menu.reply_text  # the list's rows, after the tap on "Agendar visita"
    assert "Qual é o seu e-mail?" in slots.reply_text  # the bot got a list_reply for the row tapped
    assert "[Confirmar]" in email.reply_text  # typed text: the e-mail
    assert "Agendamento confirmado" in confirm.reply_text and confirm.latency_ms > 0
    stats = report.run.target_stats or {}
    assert stats["platform_taps"] == 3  # Agendar visita, Amanhã 10h, Confirmar: interactive replies, not text
    assert stats["platform_inbound"] == 5 and stats["platform_turns"] == 5
    assert stats["platform_messages"] == 6 == sum(len(t.reply_messages) for t in record.turns)
    assert stats["platform_typing_indicators"] == 5 and stats["platform_typing_turns"] == 5
    # sent + delivered per message, read once the user saw it: every status reached the bot.
    assert stats["platform_statuses_sent"] == 3 * 6 and "platform_statuses_failed" not in stats
    assert not [k for k in stats if k.startswith("platform_fault_")]


@pytest.mark.e2e
def test_the_bot_verifies_the_signature_and_refuses_a_forged_webhook(tmp_path, start_bot):
    _, bot_port = _bot(start_bot, free_port())
    status = {"id": "wamid.HBgMNTUxMTkxMjM0NTY3OBUCABEYEjQ", "status": "delivered", "timestamp": "1764950000"}
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_ID},
        "contacts": [{"wa_id": "5511912345678", "user_id": "BR.1234567890"}],
        "statuses": [{**status, "recipient_id": "5511912345678"}],
    }
    change = {"value": value, "field": "messages"}
    update = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [change]}],
    }
    body = json.dumps(update).encode()
    good = "sha256=" + hmac.new(SECRETS["WA_APP_SECRET"].encode(), body, hashlib.sha256).hexdigest()
    forged = "sha256=" + hmac.new(b"another secret", body, hashlib.sha256).hexdigest()
    url = f"http://127.0.0.1:{bot_port}/webhook"
    headers = {"Content-Type": "application/json"}
    assert httpx.post(url, content=body, headers={**headers, "X-Hub-Signature-256": good}).status_code == 200
    assert (
        httpx.post(url, content=body, headers={**headers, "X-Hub-Signature-256": forged}).status_code >= 400
    )
    assert httpx.post(url, content=body, headers=headers).status_code >= 400


@pytest.mark.e2e
def test_a_wrong_verify_token_stops_the_run_before_it_starts(tmp_path, start_bot, monkeypatch):
    graph_port = free_port()
    _, bot_port = _bot(start_bot, graph_port, WA_VERIFY_TOKEN="the bot's own")
    config = load_config(_config(tmp_path, bot_port, graph_port))
    with pytest.raises(
        ConfigError, match=r"target\.platform\.whatsapp\.verify_token_env.*verification handshake"
    ):
        build_platform_target(config)


@pytest.mark.e2e
def test_a_bot_with_a_wrong_token_gets_error_190_and_the_turn_fails_as_a_platform_error(tmp_path, start_bot):
    graph_port = free_port()
    _, bot_port = _bot(start_bot, graph_port, WA_TOKEN="EAAexpired")
    ran = invoke("run", "-f", str(_config(tmp_path, bot_port, graph_port)))
    assert ran.returncode != 2, ran.stderr  # the run ran: the bot's faults are findings, not bad input
    [record] = journal_lines(next((tmp_path / "runs").glob("*/journal.jsonl")))
    assert record.outcome == Outcome.ERROR
    error = record.turns[0].error
    assert error is not None and error.kind == ErrorKind.PLATFORM and "invalid_token" in error.message
    run = json.loads(next((tmp_path / "runs").glob("*/run.json")).read_text())
    assert run["target_stats"]["platform_fault_invalid_token"] >= 1
    assert "platform faults" in ran.stdout and "invalid_token" in ran.stdout  # the summary shows them


@pytest.fixture
def emulator(tmp_path):
    """The emulated Graph API alone (no bot): raw calls show its answers."""
    graph_port = free_port()
    config = load_config(
        _config(tmp_path, free_port(), graph_port, extra="throughput_per_s: 2", verify=False)
    )
    target = build_platform_target(config)
    assert isinstance(target, PlatformTarget)
    yield target, f"http://127.0.0.1:{graph_port}/v23.0/{PHONE_ID}/messages"
    target.close()


def test_the_graph_api_answers_with_its_own_response_and_error_shapes(emulator):
    target, url = emulator
    auth = {"Authorization": f"Bearer {SECRETS['WA_TOKEN']}"}
    text = {
        "messaging_product": "whatsapp",
        "to": "+55 11 91234-5678",
        "type": "text",
        "text": {"body": "oi"},
    }

    wrong = httpx.post(url, json=text, headers={"Authorization": "Bearer EAAwrong"})
    assert wrong.status_code == 401
    error = wrong.json()["error"]
    assert error["code"] == 190 and error["type"] == "OAuthException" and error["fbtrace_id"]

    accepted = httpx.post(url, json=text, headers=auth)  # nobody has this number: accepted, fails later
    assert accepted.status_code == 200
    answer = accepted.json()
    assert answer["messaging_product"] == "whatsapp"
    assert answer["contacts"] == [{"input": "+55 11 91234-5678", "wa_id": "5511912345678"}]
    assert answer["messages"][0]["id"].startswith("wamid.")

    long = {**text, "text": {"body": "x" * 4097}}
    too_long = httpx.post(url, json=long, headers=auth)
    assert too_long.status_code == 400
    assert (
        too_long.json()["error"]["code"] == 100
        and "4096" in too_long.json()["error"]["error_data"]["details"]
    )

    # Two per second allowed (a burst of two): the next one is over the throughput.
    limited = [httpx.post(url, json=text, headers=auth).status_code for _ in range(3)]
    over = httpx.post(url, json=text, headers=auth)
    assert 400 in limited or over.status_code == 400
    other = httpx.post(url.replace(PHONE_ID, "999"), json=text, headers=auth).json()["error"]
    assert other["code"] == 100 and other["error_subcode"] == 33

    stats = target.stats()
    assert stats["platform_fault_invalid_token"] == 1
    assert stats["platform_fault_unknown_recipient"] >= 1
    assert stats["platform_fault_text_too_long"] == 1
    assert stats["platform_fault_throughput"] >= 1
    assert stats["platform_fault_unknown_phone_number_id"] == 1


@pytest.mark.e2e
@pytest.mark.slow
def test_two_hundred_concurrent_conversations_account_for_every_message(tmp_path, start_bot):
    graph_port = free_port()
    _, bot_port = _bot(start_bot, graph_port)
    conversations = 200
    report = api.run(_config(tmp_path, bot_port, graph_port, conversations=conversations))

    records = journal_lines(next((tmp_path / "runs").glob("*/journal.jsonl")))
    assert len(records) == conversations
    failed = [r.turns[-1].error for r in records if r.outcome != Outcome.GOAL_REACHED]
    assert not failed, failed[:3]
    stats = report.run.target_stats or {}
    turns = sum(len(r.turns) for r in records)
    shown = sum(len(t.reply_messages) for r in records for t in r.turns)
    assert turns == conversations * len(SCRIPT) == stats["platform_inbound"] == stats["platform_turns"]
    # Every message the bot sent reached its own conversation's turn: none late, none to a stranger.
    assert shown == conversations * 6 == stats["platform_messages"]
    assert "platform_messages_late" not in stats
    assert stats["platform_taps"] == conversations * 3
    assert stats["platform_statuses_sent"] == 3 * shown and "platform_statuses_failed" not in stats
    assert not [k for k in stats if k.startswith("platform_fault_")]
    # Each conversation saw its own name: no reply crossed to another conversation.
    for record in records:
        assert record.identity["first_name"] in record.turns[0].reply_messages[0]
