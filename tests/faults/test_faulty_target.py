"""The faulty target's own rules: which turns a plan breaks, its command line, its impostor URLs."""

import pytest
from pydantic import ValidationError

from convoload_demo.faulty import Fault, FaultPlan, FaultyServerSettings, parse_fault
from convoload_demo.faulty.__main__ import build_parser, settings_from_args
from convoload_demo.faulty.replies import forged_url, healthy_reply


def broken(plan: FaultPlan, api: str = "chat", conversations: int = 6, turns: int = 3) -> list[tuple]:
    """(conversation, turn, kind) of every turn the plan breaks, conversations taking turns in order."""
    out = []
    for turn in range(1, turns + 1):
        for conversation in range(1, conversations + 1):
            fault = plan.pick(api, conversation, turn, f"s{conversation}")
            if fault is not None:
                out.append((conversation, turn, fault.kind))
    return sorted(out)


def test_selectors_combine():
    plan = FaultPlan([Fault(kind="status", every=2, turn=2)])
    assert broken(plan) == [(2, 2, "status"), (4, 2, "status"), (6, 2, "status")]
    plan = FaultPlan([Fault(kind="empty", conversations=(1, 5))])
    assert broken(plan) == [(c, t, "empty") for c in (1, 5) for t in (1, 2, 3)]


def test_times_caps_a_fault_and_the_next_one_takes_over():
    plan = FaultPlan([Fault(kind="status", times=2), Fault(kind="empty", turn=1)])
    assert broken(plan, conversations=3, turns=1) == [(1, 1, "status"), (2, 1, "status"), (3, 1, "empty")]


def test_rate_is_reproducible_from_the_seed():
    def picks(seed: int) -> list[tuple]:
        return broken(FaultPlan([Fault(kind="status", rate=0.5)], seed=seed), conversations=40)

    assert picks(1) == picks(1)
    assert picks(1) != picks(2)
    assert 20 < len(picks(1)) < 100  # of 120 turns


def test_webhook_only_faults_never_hit_the_chat_api():
    plan = FaultPlan([Fault(kind="late"), Fault(kind="status", api="webhook")])
    assert broken(plan, "chat") == []
    assert {k for _, _, k in broken(plan, "webhook")} == {"late"}
    with pytest.raises(ValidationError, match="only exists on the webhook API"):
        Fault(kind="duplicate", api="chat")


def test_fault_specs_from_the_command_line():
    assert parse_fault("status,every=3,turn=2,status=503") == Fault(
        kind="status", every=3, turn=2, status=503
    )
    assert parse_fault("forged, mode=path, withhold=false") == Fault(
        kind="forged", mode="path", withhold=False
    )
    assert parse_fault('{"kind": "late", "seconds": 2.5}') == Fault(kind="late", seconds=2.5)
    for bad in ("explode", "status,every", "status,every=0", "status,colour=red"):
        with pytest.raises(ValueError):
            parse_fault(bad)


def test_settings_survive_the_command_line():
    settings = FaultyServerSettings(
        goal_turn=4,
        reply_delay_s=0.25,
        seed=7,
        callback_timeout_s=2.0,
        faults=(Fault(kind="status", every=2, status=502), Fault(kind="forged", mode="path", withhold=False)),
    )
    args = build_parser().parse_args(settings.cli_args())
    assert settings_from_args(args) == settings


def test_impostor_urls_and_healthy_replies():
    url = "http://127.0.0.1:9000/cb/s3cr3t/session-1/2"
    forged = forged_url(url, "secret")
    assert forged.startswith("http://127.0.0.1:9000/cb/forged-") and forged.endswith("/session-1/2")
    assert forged_url(url, "path") == url + "/forged"
    assert "https://" not in healthy_reply(1, 2, 3)
    assert healthy_reply(7, 3, 3).endswith("https://pay.example.com/pix/faulty-00007")
