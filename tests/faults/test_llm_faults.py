"""Faults of the simulated users' LLM providers (the bundled local provider's fault script), in real runs.

The agent under test is the faulty target with no faults: whatever breaks here is the simulator's.
"""

import json
from pathlib import Path
from typing import Any

import pytest

from tests.faults.harness import (
    GOAL_TURN,
    SHORT_S,
    assert_counted,
    assert_failed_with,
    assert_nothing_lost,
    assert_reached_goal,
    chat_target,
    make_config,
    run_faults,
)
from tests.helpers import free_port

pytestmark = pytest.mark.e2e

PRIMARY, BACKUP = "primary-customer", "backup-customer"
PRIMARY_LABEL, BACKUP_LABEL = f"primary/{PRIMARY}", f"local/{BACKUP}"  # `local`: the hook's pattern
CUSTOMER_LINES = ["oi, quero comprar ingressos", "2 adultos", "pix", "obrigado"]
CONVERSATIONS = 4
CALLS = CONVERSATIONS * GOAL_TURN  # one answered LLM call per message of a healthy run


def script(*faults: dict[str, Any]) -> dict[str, Any]:
    """Both models answer the customer's lines in turn; the faults come first, in order."""
    models = (PRIMARY, BACKUP)
    return {
        "models": dict.fromkeys(models, "canned"),
        "canned": dict.fromkeys(models, CUSTOMER_LINES),
        "faults": list(faults),
    }


def provider(name: str, model: str, base_url: str) -> dict[str, Any]:
    return {"name": name, "model": model, "base_url": base_url, "timeout_s": 2 * SHORT_S}


def llm_config(tmp_path: Path, faulty, providers: list[dict[str, Any]], user: str = "llm", **llm: Any):
    settings = {
        "providers": providers,
        "retries": 0,
        "backoff_base_s": 0.01,
        "backoff_max_s": 0.02,
        # High enough never to open: every failure must show up as itself, not as circuit_open.
        "breaker_failures": 100,
        "user_retries": 2,
        "cache_path": None,
        **llm,
    }
    return make_config(tmp_path, chat_target(faulty), user={"type": user}, llm=settings)


def both(llm) -> list[dict[str, Any]]:
    return [provider("primary", PRIMARY, llm.base_url), provider("local", BACKUP, llm.base_url)]


def statuses(llm) -> list[int]:
    return [r["status"] for r in llm.requests()]


def assert_all_reached_goal(run) -> None:
    assert_nothing_lost(run)
    assert_reached_goal(run, set(run.by_session()))
    assert run.summary["errors_by_kind"] == {} and run.summary["successful_conversations"] == CONVERSATIONS


def test_rate_limit_is_retried_after_retry_after(tmp_path, faulty, llm):
    llm.set_script(script({"kind": "rate_limit", "times": 2, "retry_after": 0.01, "model": PRIMARY}))
    config = llm_config(tmp_path, faulty, [provider("primary", PRIMARY, llm.base_url)], retries=2)
    run = run_faults(config, CONVERSATIONS, 2, faulty)
    assert_all_reached_goal(run)
    tally = run.summary["llm"]["by_provider"][PRIMARY_LABEL]
    assert tally["calls"] == CALLS and tally["retries"] == 2
    assert run.summary["llm"]["fallbacks"] == {}
    assert sorted(statuses(llm)) == [200] * CALLS + [429] * 2
    llm_rows = [e for e in run.locust.entries.values() if e.method == "LLM"]
    assert sum(e.num_requests for e in llm_rows) == CALLS and not any(e.num_failures for e in llm_rows)


def test_a_retry_after_too_long_falls_back_at_once(tmp_path, faulty, llm):
    llm.set_script(script({"kind": "rate_limit", "times": 2, "retry_after": 30, "model": PRIMARY}))
    config = llm_config(tmp_path, faulty, both(llm), retries=2, max_retry_after_s=SHORT_S)
    run = run_faults(config, CONVERSATIONS, 2, faulty)
    assert_all_reached_goal(run)
    route = f"{PRIMARY_LABEL} -> {BACKUP_LABEL} (rate_limited)"
    assert run.summary["llm"]["fallbacks"] == {route: 2}
    assert run.summary["llm"]["by_provider"][BACKUP_LABEL]["calls"] == 2
    assert run.summary["llm"]["by_provider"][PRIMARY_LABEL]["calls"] == CALLS - 2
    assert f"{route}: 2" in run.console


@pytest.mark.parametrize(
    ("fault", "reason"),
    [("malformed", "malformed_response"), ("bad_shape", "malformed_response"), ("empty", "empty_response")],
)
def test_malformed_llm_answers_fall_back_and_are_counted(tmp_path, faulty, llm, fault, reason):
    llm.set_script(script({"kind": fault, "times": 2, "model": PRIMARY}))
    run = run_faults(llm_config(tmp_path, faulty, both(llm)), CONVERSATIONS, 2, faulty)
    assert_all_reached_goal(run)
    route = f"{PRIMARY_LABEL} -> {BACKUP_LABEL} ({reason})"
    assert run.summary["llm"]["fallbacks"] == {route: 2}
    by_provider = run.summary["llm"]["by_provider"]
    assert by_provider[BACKUP_LABEL]["calls"] == 2 and by_provider[PRIMARY_LABEL]["calls"] == CALLS - 2
    assert f"{route}: 2" in run.console
    assert run.aggregate["findings"]["by_hook"]["ollama_fallbacks"]["count"] == 2
    assert "2 calls fell back to the local model" in run.html


def test_primary_down_every_call_falls_back(tmp_path, faulty, llm):
    llm.set_script(script())
    down = provider("primary", PRIMARY, f"http://127.0.0.1:{free_port()}/v1")
    config = llm_config(tmp_path, faulty, [down, both(llm)[1]], retries=1)
    run = run_faults(config, CONVERSATIONS, 2, faulty)
    assert_all_reached_goal(run)
    route = f"{PRIMARY_LABEL} -> {BACKUP_LABEL} (connection_error)"
    assert run.summary["llm"]["fallbacks"] == {route: CALLS}
    assert set(run.summary["llm"]["by_provider"]) == {BACKUP_LABEL}
    assert run.summary["llm"]["by_provider"][BACKUP_LABEL]["calls"] == CALLS
    assert statuses(llm) == [200] * CALLS  # the backup saw each call once
    assert f"{route}: {CALLS}" in run.console
    assert f"{CALLS} calls fell back to the local model" in run.html


def write_persona(directory: Path, name: str, steps: list[str]) -> str:
    path = directory / f"{name.lower()}.yaml"
    path.write_text(json.dumps({"name": name, "language": "en", "steps": steps}), encoding="utf-8")
    return str(path)


def test_server_errors_on_every_provider_fail_the_conversation_as_llm_error(tmp_path, faulty, llm):
    llm.set_script(script({"kind": "server_error", "times": 1000}))
    # Mixed users: Steady's scripted steps reach the goal without the LLM; Chatty needs it from the
    # first message. Both in one run, whatever the interleaving.
    personas = [write_persona(tmp_path, "Steady", CUSTOMER_LINES), write_persona(tmp_path, "Chatty", [])]
    config = llm_config(tmp_path, faulty, both(llm), user="mixed", retries=1)
    config = config.model_copy(update={"personas": personas})
    run = run_faults(config, CONVERSATIONS, 2, faulty)
    assert_nothing_lost(run)
    chatty = {r.session_id for r in run.journal if r.persona == "Chatty"}
    assert len(chatty) == CONVERSATIONS // 2
    assert_failed_with(run, chatty, "llm_error", text="server_error", turn_failed=False)
    assert_counted(run, "llm_error", len(chatty))
    assert_reached_goal(run, set(run.by_session()) - chatty)
    for record in run.failed().values():  # the reason names every provider that failed
        assert f"{PRIMARY_LABEL}: server_error" in record.error.message
        assert f"{BACKUP_LABEL}: server_error" in record.error.message
    user_attempts = len(chatty) * 2  # user_retries
    assert statuses(llm) == [500] * (user_attempts * 2 * 2)  # two providers, two attempts each
    assert run.summary["llm"]["calls"] == 0


def test_a_server_error_recovered_by_a_user_retry_is_still_counted(tmp_path, faulty, llm):
    llm.set_script(script({"kind": "server_error", "times": 1, "model": PRIMARY}))
    config = llm_config(tmp_path, faulty, [provider("primary", PRIMARY, llm.base_url)])
    run = run_faults(config, CONVERSATIONS, 2, faulty)
    assert_all_reached_goal(run)
    assert statuses(llm).count(500) == 1
    assert run.summary["llm"]["errors"] == {f"{PRIMARY_LABEL}: server_error": 1}


def test_fallbacks_of_a_chain_call_that_failed_everywhere_are_counted(tmp_path, faulty, llm):
    # Only a call that failed on the primary reaches the backup: exactly one chain call fails everywhere.
    llm.set_script(
        script(
            {"kind": "server_error", "times": 1, "model": PRIMARY},
            {"kind": "server_error", "times": 1, "model": BACKUP},
        )
    )
    run = run_faults(llm_config(tmp_path, faulty, both(llm)), CONVERSATIONS, 2, faulty)
    assert_all_reached_goal(run)  # the user's second whole-chain attempt succeeds
    route = f"{PRIMARY_LABEL} -> {BACKUP_LABEL} (server_error)"
    assert run.summary["llm"]["fallbacks"] == {route: 1}
