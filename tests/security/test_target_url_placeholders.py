"""Placeholders in `target.url` are filled like the body's, and checked when the config is loaded.

Before, `{env.NAME}` and every other placeholder in the URL went to the agent literally (or, at the start
of the URL, made the config invalid).
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import httpx
import pytest

from convoload.targets.receiver import WebhookReceiver
from convoload.targets.templating import TemplateError, UrlTemplate
from convoload.targets.webhook import PRESETS, WebhookTarget
from tests.helpers import error_line, invoke, run_dirs, write

SECRET_PATH = "v2-Zk9q"  # from the environment: a secret, never in a record


class Recorder:
    """Each request's decoded path, query and JSON body, as the agent saw them."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, list[str]], dict]] = []

    def __call__(self, environ, body):
        # PEP 3333: PATH_INFO is the percent-decoded path as latin-1; the query is still encoded.
        path = environ["PATH_INFO"].encode("latin-1").decode("utf-8")
        document = json.loads(body)
        self.seen.append((path, parse_qs(environ["QUERY_STRING"], keep_blank_values=True), document))
        link = " https://pay.example.com/pix/1" if int(document["turn"]) >= 2 else ""
        return 200, {"reply": f"ok{link}"}


@pytest.mark.e2e
def test_env_variables_and_conversation_values_in_the_url_reach_the_agent(tmp_path, local_app):
    recorder = Recorder()
    app = local_app(recorder)
    config = write(
        tmp_path / "cfg.yaml",
        "run: {seed: 7}\n"
        "personas: [edman, kataryna]\n"
        "target:\n"
        "  type: http\n"
        "  url: '{env.CL_AGENT_BASE}/{env.CL_AGENT_PATH}/chat/{session_id}"
        "?tenant={tenant}&who={identity.full_name}&turn={iteration}&persona={persona}'\n"
        "  variables: {tenant: acme-7}\n"
        "  body: {session_id: '{session_id}', text: '{text}', turn: '{iteration}'}\n",
    )
    runs = tmp_path / "runs"
    result = invoke(
        "run", "-f", str(config), "-n", "2", "-c", "2", "--runs-dir", str(runs),
        env={"CL_AGENT_BASE": app.url, "CL_AGENT_PATH": SECRET_PATH},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    [run_dir] = run_dirs(runs)
    identities = {}
    for path in (run_dir / "conversations").iterdir():
        document = json.loads(path.read_text())
        identities[document["summary"]["session_id"]] = document
    assert len(identities) == 2 and len(recorder.seen) == 4  # 2 conversations x 2 turns
    for path, query, body in recorder.seen:
        conversation = identities[body["session_id"]]
        assert path == f"/{SECRET_PATH}/chat/{body['session_id']}"
        assert query == {
            "tenant": ["acme-7"],
            "who": [conversation["identity"]["full_name"]],
            "turn": [str(body["turn"])],
            "persona": [conversation["summary"]["persona"]],
        }
    for record in run_dir.rglob("*"):
        if record.is_file() and record.suffix in (".json", ".jsonl", ".html", ".csv"):
            assert SECRET_PATH not in record.read_text(errors="replace"), record


def test_a_webhook_target_url_is_a_template_too(local_app, session, monkeypatch):
    """The ack request goes to the rendered URL; the agent calls back; the turn completes."""
    seen: list[tuple[str, str]] = []

    def agent(environ, body):
        seen.append((environ["PATH_INFO"], environ["QUERY_STRING"]))
        webhook = json.loads(body)["webhook"]
        httpx.post(webhook, json={"text": "olá!", "messageId": "m1", "final": True}, timeout=5)
        return 202, {"status": "queued"}

    app = local_app(agent)
    monkeypatch.setenv("CL_WIDGET_BASE", app.url)
    receiver = WebhookReceiver(message_id_path="messageId", final_path="final").start()
    target = WebhookTarget(
        "{env.CL_WIDGET_BASE}/v1/webhooks/{channel_id}?conversation={session_id}&n={user_id}",
        receiver,
        body=PRESETS["widget"]["body"],
        variables={"channel_id": "c1"},
        reply_timeout_s=10,
    )
    try:
        reply = target.send(session, "oi", 1)
    finally:
        target.close()
        receiver.stop()
    assert reply.text == "olá!"
    assert seen == [("/v1/webhooks/c1", f"conversation={session.session_id}&n={session.user_id}")]


def test_per_conversation_values_are_percent_encoded(session):
    identity = session.identity
    template = UrlTemplate("http://agent.example:8080/c/{text}?q={text}&who={identity.full_name}", {})
    assert template.fixed_url is None and template.origin == "http://agent.example:8080"
    values = {"text": "a/b?c#d&e=f g+é%", "identity": identity}
    uri = template.request_uri(values)
    assert uri == (
        "/c/a%2Fb%3Fc%23d%26e%3Df%20g%2B%C3%A9%25?q=a%2Fb%3Fc%23d%26e%3Df%20g%2B%C3%A9%25"
        f"&who={identity.full_name.replace(' ', '%20')}"
    )
    static = UrlTemplate("{base}/chat?key={k}", {"base": "https://api.example.com/v1", "k": "abc"})
    assert static.fixed_url == "https://api.example.com/v1/chat?key=abc"  # run-wide values: as they are


@pytest.mark.parametrize(
    ("url", "env", "expected"),
    [
        ("http://127.0.0.1:9/{nope}", {}, "target.url: unknown placeholder {nope}"),
        (
            "http://127.0.0.1:9/{identity.shoe_size}",
            {},
            "target.url: unknown placeholder {identity.shoe_size}",
        ),
        (
            "http://127.0.0.1:9/{env.CL_UNSET_VAR}",
            {},
            "target.url: environment variable CL_UNSET_VAR is not set",
        ),
        ("http://{session_id}.agent.example/chat", {}, "target.url: {session_id} changes per conversation"),
        ("{env.CL_BASE}/chat", {"CL_BASE": "ftp://files.example"}, "target.url: must start with http://"),
        ("https:///chat", {}, "target.url: has no host"),
    ],
)
def test_a_bad_url_template_is_refused_at_load(monkeypatch, tmp_path, url, env, expected):
    monkeypatch.delenv("CL_UNSET_VAR", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = write(tmp_path / "cfg.yaml", f"target: {{type: http, url: '{url}'}}\n")
    line = error_line(invoke("run", "-f", str(config), "--runs-dir", str(tmp_path)))
    assert line.startswith(f"{config}: {expected}"), line
    flag = error_line(invoke("converse", "--url", url, "--runs-dir", str(tmp_path)))
    assert flag.startswith("--url: " + expected.removeprefix("target.url: ")), flag


def test_url_template_errors_name_the_field():
    with pytest.raises(TemplateError) as error:
        UrlTemplate("http://h/{nope}", {}, field="target.url")
    assert error.value.field == "target.url"
