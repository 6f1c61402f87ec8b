"""convoload plays Twilio Messaging for a real bot written with the official `twilio` library
(examples/bots/twilio) on loopback: signed form webhooks, quick-reply taps as ButtonPayload on WhatsApp,
typed text on SMS, replies as TwiML and through Messages.json, Twilio's error documents, status callbacks."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl

import gevent
import httpx
import pytest
from twilio.request_validator import RequestValidator

from convoload import api
from convoload.config import load_config
from convoload.model import ErrorKind, Outcome
from convoload.platforms.base import PlatformTarget
from convoload.platforms.twilio import twilio_signature
from convoload.platforms.wiring import build_platform_target
from convoload.targets.base import TargetError
from tests.helpers import free_port, invoke, journal_lines, wait_until
from tests.platforms.conftest import config_file

TOKEN = "twilio-auth-token-for-tests"
ACCOUNT = "AC" + "a1" * 16
SCRIPT = ["Oi", "Agendar visita", "Amanhã 10h", "ana@example.com", "Confirmar"]


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)


def _config(
    tmp_path: Path,
    bot_url: str,
    api_port: int,
    *,
    channel: str = "whatsapp",
    conversations: int = 1,
    extra: str = "",
    twilio: str = "",
) -> Path:
    return config_file(
        tmp_path,
        f"""
run: {{conversations: {conversations}, concurrency: {conversations}, max_iterations: 8, seed: 7,
      runs_dir: "{tmp_path / "runs"}"}}
user: {{type: fixed, scripts: [{json.dumps(SCRIPT, ensure_ascii=False)}]}}
goal: {{type: regex, pattern: "Agendamento confirmado"}}
target:
  type: twilio
  url: {bot_url}/incoming
  timeout_s: 30
  quiet_period_s: 0.3
  receiver: {{port: {api_port}}}
  platform:
    {extra}
    twilio: {{channel: {channel}, account_sid: {ACCOUNT}, auth_token_env: TWILIO_AUTH_TOKEN{twilio}}}
""",
    )


def _bot(start_bot, api_port: int, **overrides: str):
    env = {
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_API_URL": f"http://127.0.0.1:{api_port}",
        **overrides,
    }
    return start_bot("twilio", **env)


def _run(tmp_path, bot_port, api_port, **options):
    report = api.run(_config(tmp_path, f"http://127.0.0.1:{bot_port}", api_port, **options))
    records = journal_lines(next((tmp_path / "runs").glob("*/journal.jsonl")))
    return report, records


def test_the_signature_is_twilios_documented_algorithm():
    params = [
        ("To", "+14155238886"),
        ("From", "+5511912345678"),
        ("Body", "Oi"),
        ("MediaUrl", "b"),
        ("MediaUrl", "a"),
    ]
    url = "https://bot.example/sms?x=1"
    expected = RequestValidator(TOKEN).compute_signature(url, {})  # no params: the URL alone
    assert twilio_signature(TOKEN, url, []) == expected

    # The official validator accepts ours (it takes the params as a MultiDict-like getall).
    class Form(dict):
        def getall(self, name):
            return [v for k, v in params if k == name]

    form = Form(params)
    assert RequestValidator(TOKEN).validate(url, form, twilio_signature(TOKEN, url, params))
    assert not RequestValidator("another token").validate(url, form, twilio_signature(TOKEN, url, params))


@pytest.mark.e2e
def test_on_whatsapp_a_persona_books_through_quick_replies_and_text(tmp_path, start_bot):
    api_port = free_port()
    _, bot_port = _bot(start_bot, api_port)
    report, [record] = _run(tmp_path, bot_port, api_port)

    assert record.outcome == Outcome.GOAL_REACHED, record.turns[-1].error
    first, menu, slots, email, confirm = record.turns
    # Greeting (REST Body) and the menu (REST ContentSid, quick-reply) on the phone, the buttons as labels.
    assert len(first.reply_messages) == 2
    assert record.identity["first_name"] in first.reply_messages[0]  # ProfileName reached the bot
    assert (
        "[Agendar visita]" in first.reply_messages[1] and "[Falar com atendente]" in first.reply_messages[1]
    )
    assert "[Amanhã 10h]" in menu.reply_text  # the bot got ButtonPayload=book for the tap
    assert "Qual é o seu e-mail?" in slots.reply_text  # TwiML answer to the slot's ButtonPayload
    assert "Confirmar visita Amanhã 10h para ana@example.com?" in email.reply_text  # ContentVariables filled
    assert (
        len(confirm.reply_messages) == 2 and "Agendamento confirmado" in confirm.reply_messages[0]
    )  # 2 TwiML
    stats = report.run.target_stats or {}
    assert stats["platform_taps"] == 3  # Agendar visita, Amanhã 10h, Confirmar: ButtonPayload, not text
    assert stats["platform_typing_indicators"] == 5 and stats["platform_typing_turns"] == 5
    assert stats["platform_inbound"] == 5 == stats["platform_turns"]
    assert stats["platform_messages"] == 7 == sum(len(t.reply_messages) for t in record.turns)
    # 4 REST messages with a StatusCallback: sent + delivered + read each, all signed and accepted.
    assert stats["platform_statuses_sent"] == 4 * 3 and "platform_statuses_failed" not in stats
    assert not [k for k in stats if k.startswith("platform_fault_")]
    seen = httpx.get(f"http://127.0.0.1:{bot_port}/stats").json()
    assert seen == {
        "incoming": 5,
        "status_sent": 4,
        "status_delivered": 4,
        "status_read": 4,
    }  # the bot validated every signature: none forged


@pytest.mark.e2e
def test_on_sms_a_persona_books_by_typing_the_options(tmp_path, start_bot):
    api_port = free_port()
    _, bot_port = _bot(start_bot, api_port)
    report, [record] = _run(tmp_path, bot_port, api_port, channel="sms")

    assert record.outcome == Outcome.GOAL_REACHED, record.turns[-1].error
    first = record.turns[0]
    # SMS has no buttons: the template's twilio/text fallback shows, and the user types the option.
    assert "Responda: Agendar visita / Falar com atendente" in first.reply_messages[1]
    assert "[" not in first.reply_text and "cliente" in first.reply_messages[0]  # no ProfileName on SMS
    stats = report.run.target_stats or {}
    assert "platform_taps" not in stats and stats["platform_inbound"] == 5
    assert "platform_typing_indicators" not in stats  # a WhatsApp feature: the bot sends none on SMS
    assert stats["platform_statuses_sent"] == 4 * 2  # sent + delivered: no read receipts on SMS
    assert not [k for k in stats if k.startswith("platform_fault_")]


@pytest.mark.e2e
def test_the_bot_refuses_a_forged_or_unsigned_webhook(tmp_path, start_bot):
    _, bot_port = _bot(start_bot, free_port())
    url = f"http://127.0.0.1:{bot_port}/status"
    params = [("MessageSid", "SM" + "0" * 32), ("MessageStatus", "delivered"), ("AccountSid", ACCOUNT)]
    body = "&".join(f"{k}={v}" for k, v in params)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    good = twilio_signature(TOKEN, url, params)
    forged = twilio_signature("not the token", url, params)
    assert httpx.post(url, content=body, headers={**form, "X-Twilio-Signature": good}).status_code == 200
    assert httpx.post(url, content=body, headers={**form, "X-Twilio-Signature": forged}).status_code == 403
    assert httpx.post(url, content=body, headers=form).status_code == 403
    assert httpx.get(f"http://127.0.0.1:{bot_port}/stats").json() == {"status_delivered": 1, "forged": 2}


@pytest.mark.e2e
def test_a_bot_with_wrong_credentials_gets_20003_counted_as_a_fault(tmp_path, start_bot):
    api_port = free_port()
    _, bot_port = _bot(start_bot, api_port, TWILIO_ACCOUNT_SID="AC" + "f" * 32)  # signs fine, wrong user
    ran = invoke("run", "-f", str(_config(tmp_path, f"http://127.0.0.1:{bot_port}", api_port)))
    assert ran.returncode != 2, ran.stderr  # the run ran: the bot's faults are findings, not bad input
    [record] = journal_lines(next((tmp_path / "runs").glob("*/journal.jsonl")))
    assert record.outcome == Outcome.ERROR and record.turns[0].error is not None
    run = json.loads(next((tmp_path / "runs").glob("*/run.json")).read_text())
    assert run["target_stats"]["platform_fault_invalid_token"] >= 1
    assert "platform faults" in ran.stdout and "invalid_token" in ran.stdout  # the summary shows them


@pytest.fixture
def emulator(tmp_path, local_app):
    """The emulated Twilio API alone (no bot): raw calls show its answers; status callbacks land in a
    loopback app."""
    callbacks: list[tuple[dict, bytes]] = []
    receiver = local_app(lambda environ, body: (callbacks.append((environ, body)), (200, ""))[1])
    api_port = free_port()
    config = load_config(_config(tmp_path, "http://127.0.0.1:9", api_port, extra="throughput_per_s: 3"))
    target = build_platform_target(config)
    assert isinstance(target, PlatformTarget)
    yield (
        target,
        f"http://127.0.0.1:{api_port}/2010-04-01/Accounts/{ACCOUNT}/Messages.json",
        receiver,
        callbacks,
    )
    target.close()


def test_the_messages_api_answers_with_twilios_resource_and_error_shapes(emulator):
    target, url, receiver, callbacks = emulator
    auth = (ACCOUNT, TOKEN)
    message = {
        "To": "whatsapp:+5511912345678",
        "From": "whatsapp:+14155238886",
        "Body": "oi",
        "StatusCallback": f"{receiver.url}/status",
    }

    wrong = httpx.post(url, data=message, auth=(ACCOUNT, "wrong token"))
    assert wrong.status_code == 401
    assert wrong.json() == {
        "code": 20003,
        "message": "Authenticate",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 401,
    }

    # Nobody has this number: accepted (201, queued), then reported failed through the callback.
    accepted = httpx.post(url, data=message, auth=auth)
    assert accepted.status_code == 201
    resource = accepted.json()
    assert resource["sid"].startswith("SM") and len(resource["sid"]) == 34
    assert resource["status"] == "queued" and resource["direction"] == "outbound-api"
    assert resource["to"] == message["To"] and resource["account_sid"] == ACCOUNT
    assert resource["uri"] == f"/2010-04-01/Accounts/{ACCOUNT}/Messages/{resource['sid']}.json"
    environ, body = wait_until(lambda: callbacks and callbacks[0], "the status callback")
    fields = dict(parse_qsl(body.decode()))
    assert fields["MessageSid"] == resource["sid"] and fields["MessageStatus"] == "failed"
    assert fields["ErrorCode"] == "63003"
    signature = environ["HTTP_X_TWILIO_SIGNATURE"]
    assert RequestValidator(TOKEN).validate(f"{receiver.url}/status", fields, signature)

    too_long = httpx.post(url, data={**message, "Body": "x" * 1601}, auth=auth)
    assert too_long.status_code == 400 and too_long.json()["code"] == 21617
    invalid = httpx.post(url, data={**message, "To": "whatsapp:12345"}, auth=auth).json()
    assert (
        invalid["code"] == 21211
        and invalid["status"] == 400
        and "is not a valid phone number" in invalid["message"]
    )
    empty = httpx.post(url, data={**message, "Body": ""}, auth=auth).json()
    assert empty["code"] == 21602
    unknown_content = httpx.post(url, data={**message, "Body": "", "ContentSid": "HX" + "0" * 32}, auth=auth)
    assert unknown_content.json()["code"] == 21655

    # Three per second (a burst of three): one has gone already, so the fourth of these is over the limit.
    limited = [httpx.post(url, data=message, auth=auth) for _ in range(4)]
    over = [r.json() for r in limited if r.status_code == 429]
    assert over and over[0]["code"] == 20429

    stats = target.stats()
    assert stats["platform_fault_invalid_token"] == 1
    assert stats["platform_fault_unknown_recipient"] >= 1
    assert stats["platform_fault_text_too_long"] == 1
    assert stats["platform_fault_invalid_recipient"] == 1
    assert stats["platform_fault_bad_payload"] == 1
    assert stats["platform_fault_unknown_content"] == 1
    assert stats["platform_fault_throughput"] >= 1


@pytest.mark.e2e
@pytest.mark.slow
def test_two_hundred_concurrent_conversations_account_for_every_message(tmp_path, start_bot):
    api_port = free_port()
    _, bot_port = _bot(start_bot, api_port)
    conversations = 200
    report, records = _run(tmp_path, bot_port, api_port, conversations=conversations)

    assert len(records) == conversations
    failed = [r.turns[-1].error for r in records if r.outcome != Outcome.GOAL_REACHED]
    assert not failed, failed[:3]
    stats = report.run.target_stats or {}
    turns = sum(len(r.turns) for r in records)
    shown = sum(len(t.reply_messages) for r in records for t in r.turns)
    assert turns == conversations * len(SCRIPT) == stats["platform_inbound"] == stats["platform_turns"]
    # Every message (REST and TwiML) reached its own conversation's turn: none late, none to a stranger.
    assert shown == conversations * 7 == stats["platform_messages"]
    assert "platform_messages_late" not in stats
    assert stats["platform_taps"] == conversations * 3
    assert (
        stats["platform_statuses_sent"] == conversations * 4 * 3 and "platform_statuses_failed" not in stats
    )
    assert not [k for k in stats if k.startswith("platform_fault_")]
    for record in records:  # each conversation saw its own name: no reply crossed to another one
        assert record.identity["first_name"] in record.turns[0].reply_messages[0]
    seen = httpx.get(f"http://127.0.0.1:{bot_port}/stats").json()
    assert seen["incoming"] == turns and seen["status_read"] == conversations * 4 and "forged" not in seen


def _stand_in(tmp_path, local_app, answer, twilio: str = "") -> tuple[PlatformTarget, list]:
    """A loopback stand-in for the bot that answers each webhook with `answer(fields)` (TwiML or text)."""
    seen: list[tuple[dict, dict]] = []

    def bot(environ, body):
        fields = dict(parse_qsl(body.decode()))
        seen.append((environ, fields))
        return 200, answer(fields)

    app = local_app(bot)
    config = load_config(_config(tmp_path, app.url, free_port(), twilio=twilio))
    target = build_platform_target(config)
    assert isinstance(target, PlatformTarget)
    return target, seen


def test_a_user_message_is_twilios_signed_form_webhook_and_twiml_answers_are_messages(
    tmp_path, local_app, session
):
    twiml = (
        '<?xml version="1.0" encoding="UTF-8"?><Response>'
        "<Message><Body>Olá!</Body><Media>https://loja.example/mapa.png</Media></Message>"
        "<Message>Segunda mensagem</Message></Response>"
    )
    target, seen = _stand_in(tmp_path, local_app, lambda fields: twiml)
    try:
        reply = target.send(session, "Oi", 0)
        assert reply.messages == ["Olá!\n(media) https://loja.example/mapa.png", "Segunda mensagem"]
        environ, fields = seen[0]
        address = "whatsapp:+" + session.identity.phone_digits
        assert fields["From"] == address and fields["To"] == "whatsapp:+14155238886"
        assert fields["WaId"] == session.identity.phone_digits
        assert fields["ProfileName"] == session.identity.full_name
        assert fields["Body"] == "Oi" and fields["NumMedia"] == "0" and fields["MessageType"] == "text"
        assert fields["MessageSid"].startswith("SM") and len(fields["MessageSid"]) == 34
        assert fields["AccountSid"] == ACCOUNT and fields["ApiVersion"] == "2010-04-01"
        assert environ["CONTENT_TYPE"] == "application/x-www-form-urlencoded"
        url = f"{target.platform.settings.webhook_url}"
        assert RequestValidator(TOKEN).validate(url, fields, environ["HTTP_X_TWILIO_SIGNATURE"])
        assert not RequestValidator("other").validate(url, fields, environ["HTTP_X_TWILIO_SIGNATURE"])
    finally:
        target.finish(session)
        target.close()


def test_a_plain_text_answer_is_one_message_and_broken_twiml_is_a_platform_fault(
    tmp_path, local_app, session
):
    answers = iter(["Só texto", "<Response><Message>sem fim", "<Response><Redirect>/x</Redirect></Response>"])
    target, _ = _stand_in(tmp_path, local_app, lambda fields: next(answers))
    try:
        assert target.send(session, "Oi", 0).messages == ["Só texto"]
        with pytest.raises(TargetError) as broken:
            target.send(session, "de novo", 1)
        assert broken.value.kind == ErrorKind.PLATFORM and "12100" in broken.value.message
        with pytest.raises(TargetError) as redirect:
            target.send(session, "mais uma", 2)
        assert "Redirect" in redirect.value.message
        assert target.stats()["platform_fault_bad_twiml"] == 2
    finally:
        target.finish(session)
        target.close()


def test_an_api_key_authenticates_and_the_typing_indicator_needs_a_users_message(
    tmp_path, local_app, session, monkeypatch
):
    monkeypatch.setenv("TWILIO_KEY_SECRET", "key-secret")
    key = "SK" + "b2" * 16
    target, seen = _stand_in(
        tmp_path,
        local_app,
        lambda fields: "<Response><Message>ok</Message></Response>",
        twilio=f", api_key_sid: {key}, api_key_secret_env: TWILIO_KEY_SECRET",
    )
    base = target.server.public_url
    try:
        assert target.send(session, "Oi", 0).messages == ["ok"]
        typing = f"{base}/v2/Indicators/Typing.json"
        known = {"channel": "whatsapp", "messageId": seen[0][1]["MessageSid"]}
        assert httpx.post(typing, data=known, auth=(key, "key-secret")).json() == {"success": True}
        assert httpx.post(typing, data=known, auth=(key, "wrong")).json()["code"] == 20003
        unknown = httpx.post(typing, data={**known, "messageId": "SM" + "0" * 32}, auth=(key, "key-secret"))
        assert unknown.status_code == 400
        assert target.stats()["platform_typing_indicators"] == 1
    finally:
        target.finish(session)
        target.close()


def test_a_list_picker_item_is_tapped_and_twiml_action_urls_get_status_callbacks(
    tmp_path, local_app, session
):
    statuses: list[dict] = []
    status_app = local_app(
        lambda environ, body: (statuses.append(dict(parse_qsl(body.decode()))), (200, ""))[1]
    )
    holder: dict[str, PlatformTarget] = {}

    def reply_with_a_list(fields: dict) -> None:
        base = holder["target"].server.public_url
        auth = (ACCOUNT, TOKEN)
        picker = {
            "body": "Horários",
            "button": "Ver horários",
            "items": [
                {"item": "Amanhã 10h", "id": "slot-1", "description": "1 vaga"},
                {"item": "Sexta 9h", "id": "slot-3"},
            ],
        }
        created = httpx.post(f"{base}/v1/Content", json={"types": {"twilio/list-picker": picker}}, auth=auth)
        assert created.status_code == 201 and created.json()["sid"].startswith("HX")
        sent = httpx.post(
            f"{base}/2010-04-01/Accounts/{ACCOUNT}/Messages.json",
            data={"To": fields["From"], "From": fields["To"], "ContentSid": created.json()["sid"]},
            auth=auth,
        )
        assert sent.status_code == 201

    def answer(fields: dict) -> str:
        if fields["Body"] == "Oi":
            gevent.spawn(reply_with_a_list, fields)
            return f'<Response><Message action="{status_app.url}/twiml">Veja a lista</Message></Response>'
        return f"<Response><Message>{fields.get('ListId')}={fields.get('ListTitle')}</Message></Response>"

    target, seen = _stand_in(tmp_path, local_app, answer)
    holder["target"] = target
    try:
        first = target.send(session, "Oi", 0)
        # TwiML and REST messages of one turn: whichever came first, the phone shows both.
        [twiml] = [m for m in first.raw if m["text"] == "Veja a lista"]
        [listed] = [m for m in first.raw if m is not twiml]
        assert "(Ver horários)" in listed["text"] and listed["choices"] == ["Amanhã 10h", "Sexta 9h"]
        tapped = target.send(session, "sexta 9H", 1)  # a tap: case and spacing aside
        assert tapped.messages == ["slot-3=Sexta 9h"]
        fields = seen[1][1]
        assert fields["MessageType"] == "interactive" and fields["Body"] == "Sexta 9h"  # the label, tapped
        assert fields["OriginalRepliedMessageSid"] == listed["id"]
        target.finish(session)  # waits for the conversation's callbacks
        assert [s["MessageStatus"] for s in statuses] == ["sent", "delivered", "read"]
        assert {s["MessageSid"] for s in statuses} == {twiml["id"]}
    finally:
        target.close()
