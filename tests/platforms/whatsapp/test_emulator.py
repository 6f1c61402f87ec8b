"""The WhatsApp emulator against a loopback stand-in for the bot: the exact webhook it sends, how a turn
gathers the bot's messages, taps, and what a message to nobody or a late one counts as."""

from __future__ import annotations

import hashlib
import hmac
import json
import re

import gevent
import httpx
import pytest

from convoload.config import load_config
from convoload.errors import ConfigError
from convoload.platforms.base import Choice, PlatformTarget, match_choice
from convoload.platforms.wiring import build_platform_target
from tests.helpers import invoke, wait_until, write

SECRET, TOKEN, PHONE_ID = "emulator-app-secret", "EAAemulator", "106540352242922"


@pytest.fixture(autouse=True)
def _secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WA_APP_SECRET", SECRET)
    monkeypatch.setenv("WA_TOKEN", TOKEN)


def _target(tmp_path, bot_url: str, extra: str = "") -> PlatformTarget:
    path = write(
        tmp_path / "wa.yaml",
        f"""
target:
  type: whatsapp
  url: {bot_url}/webhook
  timeout_s: 5
  quiet_period_s: 0.2
  platform:
    {extra}
    whatsapp: {{app_secret_env: WA_APP_SECRET, access_token_env: WA_TOKEN}}
""",
    )
    target = build_platform_target(load_config(path))
    assert isinstance(target, PlatformTarget)
    return target


def _graph(target: PlatformTarget) -> str:
    return f"{target.server.public_url}/v23.0/{PHONE_ID}/messages"


def _send(target: PlatformTarget, body: dict, token: str = TOKEN) -> httpx.Response:
    return httpx.post(_graph(target), json=body, headers={"Authorization": f"Bearer {token}"})


def test_a_user_message_is_the_cloud_api_webhook_signed_with_the_app_secret(tmp_path, local_app, session):
    seen: list[tuple[dict, bytes]] = []
    holder: dict[str, PlatformTarget] = {}

    def bot(environ, body):
        seen.append((environ, body))
        update = json.loads(body)
        value = update["entry"][0]["changes"][0]["value"]
        if "messages" in value:  # answer like a bot: two messages, the second with buttons
            wa_id = value["messages"][0]["from"]
            text = {"messaging_product": "whatsapp", "to": wa_id, "type": "text", "text": {"body": "Olá!"}}
            buttons = {
                "messaging_product": "whatsapp",
                "to": wa_id,
                "type": "interactive",
                "interactive": {
                    "type": "button",
                    "body": {"text": "Escolha"},
                    "action": {"buttons": [{"type": "reply", "reply": {"id": "b1", "title": "Sim"}}]},
                },
            }
            gevent.spawn(lambda: (_send(holder["t"], text), _send(holder["t"], buttons)))
        return 200, ""

    app = local_app(bot)
    target = holder["t"] = _target(tmp_path, app.url)
    try:
        reply = target.send(session, "oi", 1)
        assert reply.messages == ["Olá!", "Escolha\n[Sim]"] and reply.latency_ms > 0 and reply.ack_ms
        environ, body = seen[0]
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert environ["HTTP_X_HUB_SIGNATURE_256"] == expected
        update = json.loads(body)
        assert update["object"] == "whatsapp_business_account"
        change = update["entry"][0]["changes"][0]
        assert change["field"] == "messages"
        value = change["value"]
        assert value["messaging_product"] == "whatsapp"
        assert value["metadata"] == {"display_phone_number": "15550783881", "phone_number_id": PHONE_ID}
        wa_id = session.identity.phone_digits
        assert value["contacts"][0]["wa_id"] == wa_id and wa_id.startswith("55")
        assert value["contacts"][0]["profile"] == {"name": session.identity.full_name}
        assert re.match(r"^BR\.\d+$", value["contacts"][0]["user_id"])
        [message] = value["messages"]
        assert message["from"] == wa_id and message["id"].startswith("wamid.")
        assert (
            message["timestamp"].isdigit() and message["type"] == "text" and message["text"] == {"body": "oi"}
        )

        # Tapping: the label typed as the user's message becomes the interactive button_reply.
        tap = target.send(session, "sim", 2)
        inbound = [json.loads(b) for _, b in seen if b"messages" in b and b'"from"' in b]
        last = inbound[-1]["entry"][0]["changes"][0]["value"]["messages"][0]
        assert last["type"] == "interactive"
        assert last["interactive"] == {"type": "button_reply", "button_reply": {"id": "b1", "title": "Sim"}}
        assert last["context"]["id"] and tap.messages
        # The statuses webhooks reach the bot: sent and delivered for each message, read once shown.
        statuses = wait_until(
            lambda: (
                [
                    s["status"]
                    for _, b in seen
                    for s in json.loads(b)["entry"][0]["changes"][0]["value"].get("statuses", [])
                ]
                if len(seen) >= 2 + 4 * 3
                else None
            ),
            "status webhooks",
        )
        assert statuses.count("sent") == statuses.count("delivered") == statuses.count("read") == 4
    finally:
        target.close()


def test_a_message_to_nobody_fails_through_the_statuses_webhook_and_counts_as_a_fault(tmp_path, local_app):
    seen: list[bytes] = []
    app = local_app(lambda environ, body: (seen.append(body), (200, ""))[1])
    target = _target(tmp_path, app.url)
    try:
        answer = _send(
            target, {"messaging_product": "whatsapp", "to": "5511900000000", "text": {"body": "x"}}
        )
        assert answer.status_code == 200 and answer.json()["messages"][0]["id"].startswith("wamid.")
        wait_until(lambda: seen, "the failed status")
        status = json.loads(seen[0])["entry"][0]["changes"][0]["value"]["statuses"][0]
        assert status["status"] == "failed" and status["recipient_id"] == "5511900000000"
        assert status["errors"][0]["code"] == 131026
        assert target.stats()["platform_fault_unknown_recipient"] == 1
    finally:
        target.close()


def test_a_turn_whose_calls_were_all_refused_fails_as_a_platform_error(tmp_path, local_app, session):
    holder: dict[str, PlatformTarget] = {}

    def bot(environ, body):
        value = json.loads(body)["entry"][0]["changes"][0]["value"]
        if "messages" in value:
            long = {
                "messaging_product": "whatsapp",
                "to": value["messages"][0]["from"],
                "text": {"body": "y" * 5000},
            }
            gevent.spawn(_send, holder["t"], long)
        return 200, ""

    app = local_app(bot)
    target = holder["t"] = _target(tmp_path, app.url)
    try:
        from convoload.model import ErrorKind
        from convoload.targets.base import TargetError

        with pytest.raises(TargetError) as caught:
            target.send(session, "oi", 1)
        assert caught.value.kind == ErrorKind.PLATFORM and "text_too_long" in caught.value.message
        assert target.stats()["platform_fault_text_too_long"] == 1
    finally:
        target.close()


def test_a_tap_needs_the_exact_label_of_a_shown_choice():
    choices = (
        Choice("Agendar visita", "book", "button", "wamid.1"),
        Choice("Sexta 9h", "s3", "list_row", "w2"),
    )
    assert match_choice("  agendar   VISITA ", choices).choice == choices[0]
    assert match_choice("[Sexta 9h]", choices).choice == choices[1]
    assert match_choice("Agendar visita amanhã", choices).choice is None
    assert match_choice("", choices).choice is None


def test_a_whatsapp_target_without_its_settings_is_a_one_line_error(tmp_path):
    config = write(tmp_path / "bad.yaml", "target: {type: whatsapp, url: 'http://127.0.0.1:9/webhook'}\n")
    result = invoke("run", "-f", str(config), "--runs-dir", str(tmp_path / "runs"))
    assert result.returncode == 2
    assert "target" in result.stderr and "platform.whatsapp" in result.stderr
    assert "Traceback" not in result.stderr
    with pytest.raises(ConfigError):
        load_config(config)


def test_templates_media_and_bad_payloads_get_the_graph_api_answers(tmp_path, local_app):
    app = local_app(lambda environ, body: (200, ""))
    target = _target(tmp_path, app.url, extra="statuses: false")
    base = {"messaging_product": "whatsapp", "to": "5511900000001"}
    try:
        template = {
            **base,
            "type": "template",
            "template": {"name": "hello_world", "language": {"code": "pt_BR"}},
        }
        answered = _send(target, template).json()
        assert answered["messages"][0]["message_status"] == "accepted"
        image = _send(target, {**base, "type": "image", "image": {"caption": "foto"}})
        assert image.status_code == 400 and image.json()["error"]["code"] == 100  # neither id nor link
        four = [{"type": "reply", "reply": {"id": f"b{i}", "title": f"B{i}"}} for i in range(4)]
        buttons = {"type": "button", "body": {"text": "?"}, "action": {"buttons": four}}
        too_many = _send(target, {**base, "type": "interactive", "interactive": buttons})
        assert too_many.status_code == 400 and too_many.json()["error"]["code"] == 131009
        odd = _send(target, {**base, "type": "hologram", "hologram": {}})
        assert odd.status_code == 400 and odd.json()["error"]["code"] == 100
        unknown_path = httpx.post(f"{target.server.public_url}/v23.0/{PHONE_ID}/nonsense", json=base)
        assert unknown_path.json()["error"]["code"] == 2500
        stats = target.stats()
        assert stats["platform_fault_bad_payload"] == 3 and stats["platform_fault_unknown_endpoint"] == 1
    finally:
        target.close()


def test_the_example_config_is_valid(monkeypatch):
    from tests.platforms.conftest import BOTS

    monkeypatch.setenv("WA_VERIFY_TOKEN", "vt")
    config = load_config(BOTS / "whatsapp" / "convoload.yaml")
    assert config.target.type == "whatsapp" and config.target.platform.whatsapp is not None
    assert config.target.receiver.port == 8099


def test_a_message_between_turns_is_late_and_shown_with_the_next_reply(tmp_path, local_app, session):
    holder: dict[str, PlatformTarget] = {}

    def bot(environ, body):
        value = json.loads(body)["entry"][0]["changes"][0]["value"]
        if "messages" in value:
            message = value["messages"][0]
            text = {
                "messaging_product": "whatsapp",
                "to": message["from"],
                "text": {"body": message["text"]["body"]},
            }
            gevent.spawn(_send, holder["t"], text)
        return 200, ""

    app = local_app(bot)
    target = holder["t"] = _target(tmp_path, app.url, extra="statuses: false")
    try:
        assert target.send(session, "um", 1).messages == ["um"]
        wa_id = session.identity.phone_digits
        late = {"messaging_product": "whatsapp", "to": wa_id, "text": {"body": "atrasada"}}
        assert _send(target, late).status_code == 200  # the platform takes it: nobody is waiting
        second = target.send(session, "dois", 2)
        assert second.messages == ["atrasada", "dois"]
        stats = target.stats()
        assert stats["platform_messages_late"] == 1 and stats["platform_messages"] == 2
    finally:
        target.close()


def test_too_many_messages_to_one_user_hit_the_pair_rate_limit(tmp_path, local_app):
    app = local_app(lambda environ, body: (200, ""))
    target = _target(tmp_path, app.url, extra="per_user_per_s: 1\n    statuses: false")
    text = {"messaging_product": "whatsapp", "text": {"body": "oi"}}
    try:
        assert _send(target, {**text, "to": "5511900000002"}).status_code == 200
        refused = _send(target, {**text, "to": "5511900000002"})  # the same user, within the second
        assert refused.status_code == 400 and refused.json()["error"]["code"] == 131056
        assert _send(target, {**text, "to": "5511900000003"}).status_code == 200  # another user: fine
        assert target.stats()["platform_fault_pair_rate_limit"] == 1
    finally:
        target.close()
