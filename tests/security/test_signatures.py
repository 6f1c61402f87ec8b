"""Signed callback bodies, checked the way WhatsApp, GitHub and Slack sign their webhooks.

Each format is signed here by hand, from the platform's documentation, and posted over real HTTP to a
real receiver: unsigned, wrongly signed, tampered and stale callbacks are `forged` (403).
"""

import hashlib
import hmac
import json
import subprocess
import sys
import time

import gevent
import httpx
import pytest

from convoload.config import Config, SignatureConfig, load_config
from convoload.errors import ConfigError
from convoload.load.forwarder import CallbackForwarder
from convoload.load.locust_plugin import _start_forwarder
from convoload.load.wiring import signature_verifier
from convoload.targets.receiver import WebhookReceiver
from convoload_demo.faulty import FaultyServer, FaultyServerSettings
from tests.faults.harness import GOAL_TURN, assert_nothing_lost, make_config, run_faults, webhook_target
from tests.helpers import write

SECRET = "shh-0123456789-app-secret"
BODY = json.dumps({"text": "Seu link: https://pay.example.com/pix/1", "messageId": "m1"}).encode()


def hub_256(body: bytes, secret: str = SECRET) -> dict[str, str]:
    """WhatsApp Cloud API and GitHub: X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>."""
    return {"X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


def github_sha1(body: bytes, secret: str = SECRET) -> dict[str, str]:
    """GitHub's older header: X-Hub-Signature: sha1=<hex HMAC-SHA1 of the raw body>."""
    return {"X-Hub-Signature": "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()}


def slack(body: bytes, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    """Slack: X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:{timestamp}:{body}">."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + ts.encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Signature": "v0=" + digest, "X-Slack-Request-Timestamp": ts}


FORMATS = {
    "whatsapp": ({"secret_env": "CONVOLOAD_TEST_SIGNING"}, hub_256),
    "github-sha1": (
        {
            "secret_env": "CONVOLOAD_TEST_SIGNING",
            "header": "X-Hub-Signature",
            "algorithm": "sha1",
            "prefix": "sha1=",
        },
        github_sha1,
    ),
    "slack": (
        {
            "secret_env": "CONVOLOAD_TEST_SIGNING",
            "header": "X-Slack-Signature",
            "prefix": "v0=",
            "timestamp_header": "X-Slack-Request-Timestamp",
        },
        slack,
    ),
}


@pytest.fixture
def signing_env(monkeypatch):
    monkeypatch.setenv("CONVOLOAD_TEST_SIGNING", SECRET)


def config_with(signature: dict, **receiver) -> Config:
    receiver = {"signature": signature, **receiver}
    return Config.model_validate(
        {"target": {"type": "webhook", "url": "http://127.0.0.1:9/hook", "receiver": receiver}}
    )


def signed_receiver(signature: dict) -> WebhookReceiver:
    return WebhookReceiver(signature=signature_verifier(config_with(signature))).start()


def post(url: str, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(
        url, content=body, headers={"Content-Type": "application/json", **(headers or {})}, timeout=10
    )


@pytest.mark.parametrize("name", list(FORMATS))
def test_each_platforms_signature_is_accepted_and_anything_else_is_forged(signing_env, name):
    signature, sign = FORMATS[name]
    receiver = signed_receiver(signature)
    try:
        pending = receiver.expect("s1", 1)
        url = receiver.callback_url("s1", 1)
        tampered = BODY.replace(b"pay.example.com", b"evil.example.net")
        assert post(url, BODY).status_code == 403  # unsigned
        assert post(url, BODY, sign(BODY, "not-the-secret")).status_code == 403  # another secret
        assert post(url, tampered, sign(BODY)).status_code == 403  # the body changed after signing
        other_format = github_sha1 if name != "github-sha1" else hub_256
        assert post(url, BODY, other_format(BODY)).status_code == 403  # signed, but not as configured
        assert pending.callbacks == []
        answer = post(url, BODY, sign(BODY))
        assert answer.status_code == 202 and answer.json() == {"status": "accepted"}
        callbacks, _ = receiver.wait(pending, timeout_s=5)
        assert callbacks[0].document["messageId"] == "m1"
        receiver.release(pending)
        assert receiver.counters == {"forged": 4, "accepted": 1}
    finally:
        receiver.stop()


def test_a_slack_signature_outside_the_tolerance_is_a_replay_and_forged(signing_env):
    receiver = signed_receiver({**FORMATS["slack"][0], "tolerance_s": 60})
    try:
        pending = receiver.expect("s1", 1)
        url = receiver.callback_url("s1", 1)
        now = int(time.time())
        assert post(url, BODY, slack(BODY, timestamp=now - 600)).status_code == 403  # captured, replayed
        assert post(url, BODY, slack(BODY, timestamp=now + 600)).status_code == 403  # from the future
        junk = {**slack(BODY), "X-Slack-Request-Timestamp": "9" * 5000}
        assert post(url, BODY, junk).status_code == 403
        assert post(url, BODY, {**slack(BODY), "X-Slack-Request-Timestamp": ""}).status_code == 403
        assert post(url, BODY, slack(BODY, timestamp=now - 30)).status_code == 202
        receiver.release(pending)
        assert receiver.counters == {"forged": 4, "accepted": 1}
    finally:
        receiver.stop()


def test_signature_settings_are_validated_when_the_config_is_loaded(tmp_path, monkeypatch):
    monkeypatch.delenv("CONVOLOAD_TEST_MISSING", raising=False)
    monkeypatch.setenv("CONVOLOAD_TEST_SIGNING", SECRET)

    def load(signature: str) -> ConfigError:
        path = write(
            tmp_path / "c.yaml",
            "target:\n  type: webhook\n  url: http://127.0.0.1:9/hook\n"
            f"  receiver:\n    signature: {signature}\n",
        )
        with pytest.raises(ConfigError) as info:
            load_config(path)
        return info.value

    missing = load("{secret_env: CONVOLOAD_TEST_MISSING}")
    assert missing.field == "target.receiver.signature.secret_env"
    assert "CONVOLOAD_TEST_MISSING is not set" in str(missing) and "\n" not in str(missing)
    assert load("{secret_env: CONVOLOAD_TEST_SIGNING, algorithm: crc32}").field == (
        "target.receiver.signature.algorithm"
    )
    assert (
        load("{secret_env: CONVOLOAD_TEST_SIGNING, header: 'X Bad'}").field
        == "target.receiver.signature.header"
    )
    assert load("{header: X-Sig}").field == "target.receiver.signature.secret_env"
    assert load("{secret_env: CONVOLOAD_TEST_SIGNING, tolerance_s: 0}").field == (
        "target.receiver.signature.tolerance_s"
    )
    assert load("{secret_env: CONVOLOAD_TEST_SIGNING, sha: 1}").message == "unknown field"
    good = SignatureConfig(secret_env="CONVOLOAD_TEST_SIGNING", algorithm="SHA512")
    assert good.algorithm == "sha512"


def test_the_forwarding_master_passes_the_signature_headers_on(signing_env):
    signature = FORMATS["slack"][0]
    config = config_with(signature, forwarder={})
    forwarder = _start_forwarder(config)  # as the Locust master starts it from the config
    assert isinstance(forwarder, CallbackForwarder)
    receiver = WebhookReceiver(
        worker_index=0, callback_base=forwarder.worker_base(0), signature=signature_verifier(config)
    ).start()
    forwarder.route(0, receiver.public_url)
    try:
        pending = receiver.expect("s1", 1)
        url = receiver.callback_url("s1", 1)
        assert post(url, BODY).status_code == 403
        sender = gevent.spawn(post, url, BODY, slack(BODY))
        receiver.wait(pending, timeout_s=5)
        assert sender.get(timeout=5).status_code == 202
        receiver.release(pending)
        assert forwarder.stats() == {"forwarded": 1, "worker_403": 1}
    finally:
        receiver.stop()
        forwarder.stop()


@pytest.mark.e2e
def test_a_run_against_the_demo_agent_signing_its_callbacks_goes_green(tmp_path, monkeypatch):
    """target.type demo with a signature: the bundled ticket agent signs with the configured secret."""
    from convoload.load.context import RunContext
    from convoload.load.engine import run_load

    monkeypatch.setenv("CONVOLOAD_TEST_SIGNING", SECRET)
    config = Config.model_validate(
        {
            "run": {"seed": 3, "runs_dir": str(tmp_path / "runs")},
            "target": {
                "type": "demo",
                "demo": {"reply_delay_s": 0.01, "jitter_s": 0.0},
                "receiver": {"signature": FORMATS["slack"][0]},
            },
            "store": {"enabled": False},
        }
    )
    context = RunContext(config)
    try:
        run_load(context, 3, 3)
        document = context.aggregate()
    finally:
        context.close()
    stats = {k: v for k, v in document["run"]["target_stats"].items() if v}
    assert document["summary"]["outcomes"] == {"goal_reached": 3}
    assert stats["callbacks_accepted"] > 0 and set(stats) == {"callbacks_accepted"}


@pytest.mark.e2e
def test_an_agent_signing_with_the_wrong_secret_gets_every_callback_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVOLOAD_TEST_SIGNING", SECRET)
    monkeypatch.setenv("CONVOLOAD_TEST_AGENT_SECRET", "a-different-secret-entirely")
    signature = SignatureConfig(secret_env="CONVOLOAD_TEST_AGENT_SECRET")
    with FaultyServer(FaultyServerSettings(goal_turn=GOAL_TURN, signature=signature)) as agent:
        target = webhook_target(agent, receiver={"signature": {"secret_env": "CONVOLOAD_TEST_SIGNING"}})
        run = run_faults(make_config(tmp_path, target), 4, 2, agent)
    assert_nothing_lost(run)
    assert run.summary["successful_conversations"] == 0
    assert run.summary["errors_by_kind"] == {"webhook_timeout": 4}
    stats = {k: v for k, v in run.target_stats.items() if v}
    assert stats == {"callbacks_forged": 4} and run.server["callbacks"] == {"403": 4}
    assert "forged: 4" in run.console
    assert all(t.reply_text is None for r in run.journal for t in r.turns)


@pytest.mark.e2e
def test_a_bundled_agent_asked_to_sign_without_its_secret_is_a_one_line_error(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "COLUMNS": "160"}  # CONVOLOAD_TEST_MISSING is not set
    for command in ("serve-demo", "serve-faulty"):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "convoload",
                command,
                "--port",
                "0",
                "--sign",
                "secret_env=CONVOLOAD_TEST_MISSING",
            ],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=60,
        )
        assert result.returncode == 2
        assert result.stderr.strip().splitlines() == [
            "error: --sign: secret_env: environment variable CONVOLOAD_TEST_MISSING is not set "
            "(the callback signing secret)"
        ]
