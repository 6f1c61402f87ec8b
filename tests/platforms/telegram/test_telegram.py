"""convoload plays the Telegram Bot API for a real python-telegram-bot bot (examples/bots/telegram) on
loopback: updates by long polling and by webhook with its secret token, inline button taps as
callback_query updates, reply keyboard taps as text, the Bot API's envelope and errors, faults counted."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import gevent
import httpx
import pytest

from convoload import api
from convoload.config import load_config
from convoload.errors import ConfigError
from convoload.identity import IdentityFactory
from convoload.model import ErrorKind, Outcome
from convoload.platforms.base import PlatformTarget, Turn, UserInput
from convoload.platforms.telegram import TelegramPlatform
from convoload.platforms.wiring import build_platform_target
from convoload.targets.base import Session
from tests.helpers import Processes, Started, free_port, journal_lines, wait_until
from tests.platforms.conftest import BOTS, config_file

TOKEN = "7300000001:AAH-test_token_for_convoload_0123456789"
SECRET = "webhook-secret_42"
SCRIPT = ["/start", "Ver planos", "Pro - R$ 59", "ana@example.com", "Confirmar"]


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TG_TOKEN", TOKEN)
    monkeypatch.setenv("TG_SECRET", SECRET)


def _config(
    tmp_path: Path,
    api_port: int,
    *,
    conversations: int = 1,
    concurrency: int | None = None,
    platform: str = "",
    url: str = "",
    timeout_s: float = 20,
    quiet_period_s: float = 0.3,
    pacing: str = "",
) -> Path:
    return config_file(
        tmp_path,
        f"""
run: {{conversations: {conversations}, concurrency: {concurrency or conversations}, max_iterations: 8,
      seed: 7, runs_dir: "{tmp_path / "runs"}"{pacing}}}
user: {{type: fixed, scripts: [{json.dumps(SCRIPT, ensure_ascii=False)}]}}
goal: {{type: regex, pattern: "pay\\\\.example/tg/[0-9A-F]{{8}}"}}
target:
  type: telegram
  {url}
  timeout_s: {timeout_s}
  quiet_period_s: {quiet_period_s}
  receiver: {{port: {api_port}}}
  platform:
    {platform}
    telegram: {{token_env: TG_TOKEN, secret_token_env: TG_SECRET}}
""",
    )


def _bot(processes: Processes, api_port: int, *args: str, **env: str) -> Started:
    """The example bot; it waits for the Bot API (convoload's, started by the run) to come up."""
    folder = BOTS / "telegram"
    environment = {
        "TG_TOKEN": TOKEN,
        "TG_SECRET": SECRET,
        "TG_API_URL": f"http://127.0.0.1:{api_port}",
        **env,
    }
    return processes.start([sys.executable, str(folder / "bot.py"), *args], cwd=folder, **environment)


def _check_the_flow(tmp_path: Path, report) -> None:
    [record] = journal_lines(next((tmp_path / "runs").glob("*/journal.jsonl")))
    assert record.outcome == Outcome.GOAL_REACHED, [t.error for t in record.turns]
    start, plans, plan, email, confirm = record.turns
    assert start.reply_messages[0].startswith(f"Olá, {record.identity['first_name']}!")
    assert "[Ver planos]" in start.reply_messages[1] and "[Falar com atendente]" in start.reply_messages[1]
    # The tap edited the menu in place: the phone shows it again, marked edited, with the plans.
    assert plans.reply_text.startswith("(edited) Escolha um plano:") and "[Pro - R$ 59]" in plans.reply_text
    assert plan.reply_messages == [
        "(notification) Plano Pro selecionado",
        "(edited) Plano escolhido: Plano Pro (R$ 59)",
        "Qual é o seu e-mail?",
    ]
    assert "[Confirmar]" in email.reply_text and "ana@example.com" in email.reply_text
    assert "https://pay.example/tg/" in confirm.reply_text and confirm.latency_ms > 0
    stats = report.run.target_stats or {}
    assert stats["platform_taps"] == 3  # two inline buttons (callback_query), one reply keyboard button
    assert stats["platform_callbacks_answered"] == 2 and "platform_callbacks_unanswered" not in stats
    assert stats["platform_inbound"] == 5 and stats["platform_turns"] == 5
    assert stats["platform_messages"] == 8 == sum(len(t.reply_messages) for t in record.turns)
    assert stats["platform_messages_edited"] == 2
    assert stats["platform_typing_indicators"] == 2 and stats["platform_typing_turns"] == 2
    assert not [k for k in stats if k.startswith("platform_fault_")]


@pytest.mark.e2e
def test_a_polling_bot_sells_a_plan_through_inline_buttons_a_keyboard_and_text(tmp_path, processes):
    api_port = free_port()
    _bot(processes, api_port)
    report = api.run(_config(tmp_path, api_port))
    _check_the_flow(tmp_path, report)


@pytest.mark.e2e
def test_a_webhook_bot_sells_a_plan_and_gets_every_update_with_its_secret_token(tmp_path, processes):
    api_port, bot_port = free_port(), free_port()
    _bot(processes, api_port, "--webhook", "--port", str(bot_port))
    config = load_config(_config(tmp_path, api_port))
    target = build_platform_target(config)
    platform = target.platform
    assert isinstance(platform, TelegramPlatform)
    # The bot comes up, finds the Bot API and sets its webhook with its secret token.
    wait_until(lambda: platform.webhook is not None, "the bot's setWebhook")
    assert platform.webhook is not None
    assert platform.webhook.url == f"http://127.0.0.1:{bot_port}/telegram"
    assert platform.webhook.secret == SECRET
    report = api.run(config, target=target)
    _check_the_flow(tmp_path, report)
    target.close()

    # python-telegram-bot checks X-Telegram-Bot-Api-Secret-Token: a forged or missing one is refused.
    update = {"update_id": 1, "message": {"message_id": 1, "date": 1, "chat": {"id": 5, "type": "private"}}}
    url = f"http://127.0.0.1:{bot_port}/telegram"
    plain = {"Content-Type": "application/json"}
    assert (
        httpx.post(url, json=update, headers={**plain, "X-Telegram-Bot-Api-Secret-Token": SECRET}).status_code
        == 200
    )
    assert (
        httpx.post(
            url, json=update, headers={**plain, "X-Telegram-Bot-Api-Secret-Token": "forged"}
        ).status_code
        == 403
    )
    assert httpx.post(url, json=update, headers=plain).status_code == 403


@pytest.mark.e2e
def test_a_webhook_with_another_secret_token_fails_every_turn(tmp_path, processes, monkeypatch):
    """target.url: a webhook set before the run, as Telegram keeps it; convoload sends the configured secret,
    which is not the bot's: the bot refuses the update and the turn fails with the HTTP status."""
    api_port, bot_port = free_port(), free_port()
    _bot(processes, api_port, "--webhook", "--port", str(bot_port))
    monkeypatch.setenv("TG_SECRET", "not-the-bots-secret")
    config = load_config(_config(tmp_path, api_port, url=f"url: http://127.0.0.1:{bot_port}/telegram"))
    target = build_platform_target(config)
    platform = target.platform
    assert isinstance(platform, TelegramPlatform)
    wait_until(lambda: platform.bot_seen.is_set(), "the bot's first call")
    # The bot's own setWebhook replaced the preset one: put the misconfigured one back.
    wait_until(lambda: platform.webhook is not None and platform.webhook.secret == SECRET, "setWebhook")
    hook = {"url": f"http://127.0.0.1:{bot_port}/telegram", "secret_token": "not-the-bots-secret"}
    assert httpx.post(f"http://127.0.0.1:{api_port}/bot{TOKEN}/setWebhook", json=hook).json()["ok"] is True
    api.run(config, target=target)
    target.close()
    [record] = journal_lines(next((tmp_path / "runs").glob("*/journal.jsonl")))
    assert record.outcome == Outcome.ERROR
    error = record.turns[0].error
    assert error is not None and error.kind == ErrorKind.HTTP_STATUS and "403" in error.message


@pytest.mark.e2e
def test_a_bot_with_a_wrong_token_never_gets_an_update_and_is_counted(tmp_path, processes):
    api_port = free_port()
    wrong = _bot(processes, api_port, TG_TOKEN="7300000001:AAH-revoked_token_000000000000000000")
    report = api.run(_config(tmp_path, api_port, timeout_s=4))
    [record] = journal_lines(next((tmp_path / "runs").glob("*/journal.jsonl")))
    assert record.outcome == Outcome.ERROR
    error = record.turns[0].error
    assert error is not None and error.kind == ErrorKind.WEBHOOK_TIMEOUT
    assert (report.run.target_stats or {})["platform_fault_invalid_token"] >= 1
    assert "Unauthorized" in wrong.err() or wrong.process.poll() is not None


def test_target_url_is_optional_for_telegram_only_and_the_token_must_look_like_one(tmp_path, monkeypatch):
    config = load_config(_config(tmp_path, free_port()))
    assert config.target.url is None and config.target.platform.telegram is not None
    monkeypatch.setenv("TG_TOKEN", "not-a-token")
    with pytest.raises(
        ConfigError, match=r"target\.platform\.telegram\.token_env.*does not hold a bot token"
    ) as caught:
        load_config(_config(tmp_path, free_port()))
    assert "not-a-token" not in str(caught.value)  # the secret itself is never shown


@pytest.fixture
def emulator(tmp_path):
    """The emulated Bot API alone (no bot): raw calls show its answers."""
    api_port = free_port()
    config = load_config(_config(tmp_path, api_port, platform="throughput_per_s: 2"))
    target = build_platform_target(config)
    assert isinstance(target, PlatformTarget)
    yield target, f"http://127.0.0.1:{api_port}/bot"
    target.close()


def test_the_bot_api_answers_with_telegrams_envelope_and_errors(emulator):
    target, base = emulator
    me = httpx.get(f"{base}{TOKEN}/getMe").json()
    assert me["ok"] is True and me["result"]["is_bot"] is True and me["result"]["id"] == 7300000001

    wrong = httpx.post(f"{base}7300000001:AAH-wrong/sendMessage", json={"chat_id": 1, "text": "x"})
    assert wrong.status_code == 401
    assert wrong.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    malformed = httpx.post(f"{base}not-a-token/getMe")
    assert malformed.status_code == 404 and malformed.json()["description"] == "Not Found"
    unknown_method = httpx.post(f"{base}{TOKEN}/sendTelepathy", json={})
    assert unknown_method.status_code == 404

    nobody = httpx.post(f"{base}{TOKEN}/sendMessage", data={"chat_id": "12345", "text": "oi"})
    assert nobody.status_code == 400
    assert nobody.json() == {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
    bad = httpx.post(
        f"{base}{TOKEN}/sendMessage", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert bad.status_code == 400 and bad.json()["ok"] is False

    stats = target.stats()
    assert stats["platform_fault_invalid_token"] == 2
    assert stats["platform_fault_unknown_method"] == 1
    assert stats["platform_fault_unknown_recipient"] == 1
    assert stats["platform_fault_bad_payload"] == 1


def test_webhook_methods_and_the_getupdates_conflict(emulator):
    target, base = emulator
    url = f"{base}{TOKEN}"
    assert httpx.post(f"{url}/getWebhookInfo").json()["result"]["url"] == ""
    assert httpx.post(f"{url}/getUpdates", json={"timeout": 0}).json() == {"ok": True, "result": []}
    set_ = httpx.post(
        f"{url}/setWebhook",
        data={"url": "http://127.0.0.1:9/hook", "secret_token": SECRET, "max_connections": "5"},
    ).json()
    assert set_ == {"ok": True, "result": True, "description": "Webhook was set"}
    info = httpx.get(f"{url}/getWebhookInfo").json()["result"]
    assert info["url"] == "http://127.0.0.1:9/hook" and info["max_connections"] == 5
    conflict = httpx.post(f"{url}/getUpdates")
    assert conflict.status_code == 409 and conflict.json()["description"].startswith(
        "Conflict: can't use getUpdates method while webhook is active"
    )
    bad_secret = httpx.post(
        f"{url}/setWebhook", json={"url": "http://127.0.0.1:9/hook", "secret_token": "a b"}
    )
    assert bad_secret.status_code == 400
    assert httpx.post(f"{url}/deleteWebhook").json()["description"] == "Webhook was deleted"
    assert httpx.post(f"{url}/deleteWebhook").json()["description"] == "Webhook is already deleted"
    assert target.stats()["platform_fault_webhook_conflict"] == 1


def _conversation(target: PlatformTarget, index: int = 0) -> str:
    """A live conversation (as a run opens one), its chat id."""
    session = Session(f"s{index}", index + 1, "someone", IdentityFactory(7).identity(index))
    address = target.platform.address(session)
    target.hub.open(session, address)
    return address


def test_a_known_chat_gets_messages_and_the_errors_telegram_gives(emulator):
    target, base = emulator
    url = f"{base}{TOKEN}"
    chat_id = _conversation(target)
    sent = httpx.post(
        f"{url}/sendMessage", json={"chat_id": int(chat_id), "text": "<b>Oi</b>", "parse_mode": "HTML"}
    )
    message = sent.json()["result"]
    assert message["chat"]["id"] == int(chat_id) and message["chat"]["type"] == "private"
    assert message["from"]["is_bot"] is True and message["text"] == "<b>Oi</b>" and message["message_id"] == 1

    too_long = httpx.post(f"{url}/sendMessage", data={"chat_id": chat_id, "text": "x" * 4097})
    assert too_long.status_code == 400
    assert too_long.json()["description"] == "Bad Request: message is too long"
    empty = httpx.post(f"{url}/sendMessage", data={"chat_id": chat_id, "text": " "})
    assert empty.json()["description"] == "Bad Request: message text is empty"
    not_found = httpx.post(f"{url}/editMessageText", json={"chat_id": chat_id, "message_id": 99, "text": "y"})
    assert not_found.json()["description"] == "Bad Request: message to edit not found"
    same = httpx.post(
        f"{url}/editMessageText", json={"chat_id": chat_id, "message_id": 1, "text": "<b>Oi</b>"}
    )
    assert same.json()["description"].startswith("Bad Request: message is not modified")
    stale = httpx.post(f"{url}/answerCallbackQuery", json={"callback_query_id": "123"})
    assert "query ID is invalid" in stale.json()["description"]
    buttons = {"inline_keyboard": [[{"text": "A", "callback_data": "x" * 65}]]}
    too_much = httpx.post(
        f"{url}/sendMessage", json={"chat_id": chat_id, "text": "z", "reply_markup": buttons}
    )
    assert too_much.json()["description"] == "Bad Request: BUTTON_DATA_INVALID"

    # multipart/form-data, as Telegram accepts it too
    multipart = httpx.post(f"{url}/sendMessage", files={"chat_id": (None, chat_id), "text": (None, "multi")})
    assert multipart.json()["result"]["text"] == "multi" and multipart.json()["result"]["message_id"] == 2

    # A call with a wrong token that names the chat fails the chat's waiting turn at once.
    conversation = target.hub.find(chat_id)
    assert conversation is not None
    turn = conversation.turn = Turn(0)
    wrong = httpx.post(f"{base}7300000001:AAH-wrong/sendMessage", json={"chat_id": chat_id, "text": "x"})
    assert wrong.status_code == 401 and [f.code for f in turn.faults] == ["invalid_token"]
    assert turn.changed.is_set()

    stats = target.stats()
    assert stats["platform_fault_text_too_long"] == 1
    assert stats["platform_fault_bad_payload"] == 5
    assert stats["platform_messages_late"] == 2  # the messages accepted: no turn was waiting


def test_past_the_throughput_the_bot_gets_429_with_retry_after(emulator):
    target, base = emulator
    chat_id = _conversation(target)
    answers = [
        httpx.post(f"{base}{TOKEN}/sendMessage", json={"chat_id": chat_id, "text": f"m{i}"}) for i in range(4)
    ]
    limited = [a for a in answers if a.status_code == 429]
    assert limited, [a.status_code for a in answers]  # 2 per second, a burst of 2: 4 at once is too many
    assert limited[0].json() == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1},
    }
    assert target.stats()["platform_fault_throughput"] == len(limited)


@pytest.mark.e2e
@pytest.mark.slow
def test_200_concurrent_conversations_with_a_polling_bot_account_for_every_message(tmp_path, processes):
    api_port = free_port()
    _bot(processes, api_port)
    # Customers arrive over 8 s and read for 4 s before answering, as people do; the bot's two greeting
    # messages come further apart under load: a longer quiet period gathers both.
    config = _config(
        tmp_path,
        api_port,
        conversations=200,
        timeout_s=60,
        quiet_period_s=2.0,
        pacing=", ramp_up_s: 8, think_time_s: 4",
    )
    report = api.run(config)
    records = journal_lines(next((tmp_path / "runs").glob("*/journal.jsonl")))
    assert len(records) == 200
    # All 200 were open at once: the last one started before the first one finished.
    assert max(r.started_at for r in records) < min(r.finished_at or "" for r in records)
    assert all(r.outcome == Outcome.GOAL_REACHED for r in records), {r.outcome for r in records}
    stats = report.run.target_stats or {}
    turns = [t for r in records for t in r.turns]
    assert stats["platform_inbound"] == stats["platform_turns"] == len(turns) == 5 * 200
    # Every message the bot sent is in exactly one turn's reply: none late, none lost, none refused.
    assert stats["platform_messages"] == sum(len(t.reply_messages) for t in turns) == 8 * 200
    assert stats["platform_callbacks_answered"] == 2 * 200
    assert "platform_messages_late" not in stats and "platform_callbacks_unanswered" not in stats
    assert not [k for k in stats if k.startswith("platform_fault_")]


def test_a_waiting_getupdates_wakes_when_the_user_writes_and_offset_confirms(emulator):
    target, base = emulator
    url = f"{base}{TOKEN}/getUpdates"
    chat_id = _conversation(target)
    platform = target.platform
    poll = gevent.spawn(lambda: httpx.post(url, json={"timeout": 30}, timeout=40).json())
    wait_until(platform.polling.is_set, "the long poll waiting")
    conversation = target.hub.find(chat_id)
    assert conversation is not None
    started = time.monotonic()
    platform.send_inbound(conversation, UserInput("/start"), Turn(0))
    platform.send_inbound(conversation, UserInput("oi"), Turn(1))
    answer = poll.get(timeout=20)
    assert time.monotonic() - started < 10  # woken by the update, not by the 30 s timeout
    [update, *_] = answer["result"]
    message = update["message"]
    assert message["text"] == "/start" and message["entities"][0]["type"] == "bot_command"
    assert message["chat"]["id"] == int(chat_id) == message["from"]["id"]
    assert message["from"]["language_code"] == "pt-br" and message["from"]["first_name"]
    # Unconfirmed updates come again; an offset past one confirms it; limit caps the batch.
    both = httpx.post(url, data={"timeout": "0"}).json()["result"]
    assert [u["update_id"] for u in both] == [update["update_id"], update["update_id"] + 1]
    rest = httpx.post(url, json={"offset": update["update_id"] + 1, "limit": 1}).json()["result"]
    assert [u["message"]["text"] for u in rest] == ["oi"]
    # allowed_updates is kept for the next calls: a text message is then not an update the bot gets.
    only_taps = {"offset": rest[0]["update_id"] + 1, "allowed_updates": ["callback_query"], "timeout": 0}
    assert httpx.post(url, json=only_taps).json()["result"] == []
    platform.send_inbound(conversation, UserInput("mais uma"), Turn(2))
    assert httpx.post(url, json={"timeout": 0}).json()["result"] == []
    assert target.stats()["platform_updates_filtered"] == 1
