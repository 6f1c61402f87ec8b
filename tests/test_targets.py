"""Each connector against real local servers, including the faults a target can have."""

import json
import socket

import gevent
import pytest

from convoload.envsecrets import redact
from convoload.model import ErrorKind
from convoload.targets.base import TargetError
from convoload.targets.http import HttpTarget
from convoload.targets.python import PythonTarget
from convoload.targets.receiver import WebhookReceiver
from convoload.targets.templating import compile_template
from convoload.targets.webhook import PRESETS, WebhookTarget


def test_http_target_renders_body_and_extracts_reply(local_app, session):
    def handler(environ, body):
        request = json.loads(body)
        return 200, {
            "data": {"messages": [{"text": f"echo {request['msg']}"}, {"text": "second"}]},
            "meta": {"agent": "sales"},
        }

    app = local_app(handler)
    target = HttpTarget(
        f"{app.url}/chat",
        body={"msg": "{text}", "cpf": "{identity.cpf}", "n": "{iteration}"},
        reply_path="data.messages[*].text",
        agent_path="meta.agent",
    )
    reply = target.send(session, "oi", 3)
    assert reply.messages == ["echo oi", "second"] and reply.text == "echo oi\n\nsecond"
    assert reply.agent == "sales" and reply.latency_ms > 0
    sent = json.loads(app.requests[0][1])
    assert sent == {"msg": "oi", "cpf": session.identity.cpf, "n": 3}  # whole placeholders keep their type
    target.close()


def test_a_compiled_template_fills_every_kind_of_placeholder_on_every_render(session, monkeypatch):
    monkeypatch.setenv("CONVOLOAD_TEST_TOKEN", "tok")
    fill = compile_template(
        {
            "auth": "Bearer {env.CONVOLOAD_TEST_TOKEN}",
            "line": "{identity.first_name} says {text} ({iteration}/{iteration})",
            "parts": ["{text}", 7, None, "{unclosed"],
            "n": "{iteration}",
        }
    )
    for iteration, text in ((1, "oi"), (2, "tchau")):
        values = {"text": text, "iteration": iteration, "identity": session.identity}
        assert fill(values) == {
            "auth": "Bearer tok",
            "line": f"{session.identity.first_name} says {text} ({iteration}/{iteration})",
            "parts": [text, 7, None, "{unclosed"],
            "n": iteration,
        }


@pytest.mark.parametrize(
    ("status", "payload", "kind"),
    [
        (500, {"error": "boom"}, ErrorKind.HTTP_STATUS),
        (404, "nope", ErrorKind.HTTP_STATUS),
        (200, "<html>not json</html>", ErrorKind.MALFORMED),
        (200, {"other": "field"}, ErrorKind.MALFORMED),
        (200, {"reply": ""}, ErrorKind.EMPTY),
        (200, {"reply": []}, ErrorKind.EMPTY),
    ],
)
def test_http_target_classifies_bad_replies(local_app, session, status, payload, kind):
    app = local_app(lambda environ, body: (status, payload))
    target = HttpTarget(app.url)
    with pytest.raises(TargetError) as info:
        target.send(session, "oi", 1)
    assert info.value.kind == kind
    if kind == ErrorKind.HTTP_STATUS:
        assert info.value.status_code == status
    target.close()


def test_http_target_timeout(local_app, session):
    def slow(environ, body):
        gevent.sleep(2)  # the target under test is slow; the client gives up first
        return 200, {"reply": "late"}

    app = local_app(slow)
    target = HttpTarget(app.url, timeout_s=0.1)
    with pytest.raises(TargetError) as info:
        target.send(session, "oi", 1)
    assert info.value.kind == ErrorKind.TIMEOUT
    target.close()


def test_http_target_connection_refused(session):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there any more
    target = HttpTarget(f"http://127.0.0.1:{port}/chat")
    with pytest.raises(TargetError) as info:
        target.send(session, "oi", 1)
    assert info.value.kind == ErrorKind.CONNECTION
    target.close()


def test_secrets_in_headers_are_sent_but_never_reported(local_app, session, monkeypatch):
    monkeypatch.setenv("CONVOLOAD_TEST_TOKEN", "sk-very-secret-123")

    def echo_auth(environ, body):
        return 401, {"detail": f"bad token {environ.get('HTTP_AUTHORIZATION')}"}

    app = local_app(echo_auth)
    target = HttpTarget(app.url, headers={"Authorization": "Bearer {env.CONVOLOAD_TEST_TOKEN}"})
    with pytest.raises(TargetError) as info:
        target.send(session, "oi", 1)
    assert "sk-very-secret-123" not in info.value.message and "***" in info.value.message
    assert redact("key=sk-very-secret-123") == "key=***"
    target.close()


def test_python_target_shapes_and_faults(session):
    assert PythonTarget(lambda text, s, i: f"you said {text}").send(session, "oi", 1).text == "you said oi"
    reply = PythonTarget(lambda text, s, i: {"text": ["a", "b"], "agent": "x"}).send(session, "oi", 1)
    assert reply.messages == ["a", "b"] and reply.agent == "x"

    def boom(text, s, i):
        raise RuntimeError("kaput")

    for function, kind in (
        (boom, ErrorKind.TARGET_EXCEPTION),
        (lambda t, s, i: "", ErrorKind.EMPTY),
        (lambda t, s, i: 42, ErrorKind.MALFORMED),
        (lambda t, s, i: {"x": 1}, ErrorKind.MALFORMED),
    ):
        with pytest.raises(TargetError) as info:
            PythonTarget(function).send(session, "oi", 1)
        assert info.value.kind == kind
    assert PythonTarget("json:dumps").function is json.dumps
    with pytest.raises(ValueError, match="no attribute"):
        PythonTarget("json:nope")


def _widget_target(server, **kwargs):
    receiver = WebhookReceiver(message_id_path="messageId", final_path="final").start()
    preset = PRESETS["widget"]
    return WebhookTarget(
        server.widget_url, receiver, body=preset["body"], variables={"channel_id": "c1"}, **kwargs
    )


@pytest.mark.e2e
def test_webhook_target_against_the_demo_agent(demo_server, session):
    target = _widget_target(demo_server)
    reply = target.send(session, "oi", 1)
    assert reply.ack_ms is not None and reply.ack_ms < reply.latency_ms
    assert reply.agent == "atendimento"
    assert "promo" in reply.text.lower()
    assert target.stats() == {"callbacks_accepted": 1}
    target.close()


def test_webhook_target_times_out_when_no_callback_comes(local_app, session):
    app = local_app(lambda environ, body: (202, {"status": "queued"}))  # acks, never calls back
    receiver = WebhookReceiver().start()
    target = WebhookTarget(app.url, receiver, reply_timeout_s=0.1)
    with pytest.raises(TargetError) as info:
        target.send(session, "oi", 1)
    assert info.value.kind == ErrorKind.WEBHOOK_TIMEOUT and info.value.ack_ms is not None
    target.close()


def test_webhook_target_ack_errors(local_app, session):
    app = local_app(lambda environ, body: (503, {"error": "overloaded"}))
    target = WebhookTarget(app.url, WebhookReceiver().start(), reply_timeout_s=1)
    with pytest.raises(TargetError) as info:
        target.send(session, "oi", 1)
    assert info.value.kind == ErrorKind.HTTP_STATUS and info.value.status_code == 503
    assert target.receiver._pending == {}  # the turn was released, a late callback will count as late
    target.close()
