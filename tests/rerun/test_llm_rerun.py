"""`convoload rerun` of LLM users (the bundled local provider): replayed from the cache while the agent
replies as before, live from the turn after it replies differently, which the record names."""

from __future__ import annotations

from pathlib import Path

import pytest

from convoload.model import Outcome
from tests.helpers import invoke, run_dirs, write
from tests.rerun.helpers import DETOUR, SwitchableAgent, messages, new_runs, records

pytestmark = pytest.mark.e2e


def _config(folder: Path, target: str) -> Path:
    return write(
        folder / "llm.yaml",
        f"""
run: {{conversations: 2, concurrency: 2, seed: 11, max_iterations: 14, persona_assignment: round_robin}}
personas: [kataryna, edman]
user: {{type: llm, llm: local/persona}}
llm: {{cache_path: {folder / "cache.sqlite"}}}
{target}
""",
    )


def test_llm_users_are_replayed_from_the_cache_against_the_bundled_agent(tmp_path):
    demo = "target: {type: demo, demo: {agent: tickets, reply_delay_s: 0, jitter_s: 0}}"
    runs = tmp_path / "runs"
    ran = invoke("run", "-f", str(_config(tmp_path, demo)), "--runs-dir", str(runs))
    assert ran.returncode == 0, ran.stderr[-3000:]
    (first,) = run_dirs(runs)
    original = {r.session_id: r for r in records(first)}
    assert all(r.usage.llm_calls > 0 and r.usage.replayed_calls == 0 for r in original.values())

    ran = invoke("rerun", str(first), "--out", str(tmp_path / "again"))
    assert ran.returncode == 0, ran.stderr[-3000:]
    (second,) = run_dirs(tmp_path / "again")
    for again in records(second):
        before = original[again.rerun_of]
        assert messages(again) == messages(before) and again.outcome == before.outcome
        # Every message came from the cache: no call reached the model.
        assert again.usage.llm_calls == 0 and again.usage.replayed_calls == before.usage.llm_calls
        assert again.diverged_at is None


def test_a_changed_reply_makes_the_next_message_live_and_the_record_says_where(tmp_path, local_app):
    agent = SwitchableAgent()
    app = local_app(agent)
    runs = tmp_path / "runs"
    config = _config(tmp_path, f"target: {{type: http, url: '{app.url}/v1/chat'}}")
    ran = invoke("run", "-f", str(config), "--runs-dir", str(runs))
    assert ran.returncode == 0, ran.stderr[-3000:]
    (first,) = run_dirs(runs)
    original = {r.session_id: r for r in records(first)}
    assert all(r.goal_reached and len(r.turns) > 4 for r in original.values())

    agent.detour = True
    ran = invoke("rerun", str(first), "--failed", "--out", str(tmp_path / "x"))
    assert "has no failed conversation" in ran.stderr and ran.returncode == 2
    ran = invoke("rerun", str(first), "--out", str(tmp_path / "again"), "--transcript")
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert DETOUR in ran.stdout
    (second,) = new_runs(tmp_path / "again")
    for again in records(second):
        before = original[again.rerun_of]
        # Turns 1-3 replayed: the same messages, from the cache; the third reply was the detour.
        assert messages(again)[:3] == messages(before)[:3]
        assert all(t.usage is not None and t.usage.replayed_calls == 1 for t in again.turns[:3])
        assert again.turns[2].reply_text == DETOUR
        # From the fourth message on the LLM wrote live (the conversation so far was never recorded).
        assert again.diverged_at == 4
        assert again.turns[3].usage is not None and again.turns[3].usage.llm_calls == 1
        assert again.outcome in (Outcome.GOAL_REACHED, Outcome.MAX_ITERATIONS, Outcome.USER_STOPPED)
    assert "diverged" in ran.stdout
