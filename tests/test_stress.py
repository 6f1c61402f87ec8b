"""Stress runs: users for a duration, profile steps, and the drain at the end."""

import gevent

from convoload.config import Config
from convoload.events import ConversationFinished, ConversationStarted
from convoload.load.context import RunContext
from convoload.load.engine import run_for
from convoload.store.journal import read_journal
from tests.conftest import run_dirs


def slow_agent(text, session, iteration):
    gevent.sleep(0.05)  # an agent that takes a little while to answer
    if iteration >= 3:
        return "Pronto! Link de pagamento: https://pay.example.com/pix/X"
    return "Para qual data você gostaria dos ingressos?"


def very_slow_agent(text, session, iteration):
    gevent.sleep(5)  # still answering when the test ends
    return "Para qual data?"


def context_for(tmp_path, agent="slow_agent"):
    config = Config.model_validate(
        {
            "run": {"seed": 2, "runs_dir": str(tmp_path)},
            "target": {"type": "python", "function": f"tests.test_stress:{agent}"},
        }
    )
    context = RunContext(config)
    active = {"now": 0, "peak": 0}

    def started(_):
        active["now"] += 1
        active["peak"] = max(active["peak"], active["now"])

    def finished(_):
        active["now"] -= 1

    context.bus.subscribe(ConversationStarted, started)
    context.bus.subscribe(ConversationFinished, finished)
    return context, active


def test_users_converse_back_to_back_and_finish_when_time_is_up(tmp_path):
    context, active = context_for(tmp_path)
    try:
        result = run_for(context, 3, 0.6, drain_s=10)
        document = context.aggregate()
    finally:
        context.close()
    summary = document["summary"]
    assert not result.interrupted
    assert summary["total_conversations"] >= 3 and summary["interrupted_conversations"] == 0
    assert summary["successful_conversations"] == summary["total_conversations"]  # drained, not cut off
    assert active["peak"] == 3 and active["now"] == 0
    (run_dir,) = run_dirs(tmp_path)
    assert len(read_journal(run_dir / "journal.jsonl")) == summary["total_conversations"]


def test_without_a_drain_conversations_under_way_are_interrupted(tmp_path):
    context, _ = context_for(tmp_path, "very_slow_agent")
    try:
        result = run_for(context, 3, 0.3, drain_s=0)
        document = context.aggregate()
    finally:
        context.close()
    assert result.interrupted and document["summary"]["interrupted_conversations"] == 3


def test_profile_steps_change_the_number_of_users(tmp_path):
    context, active = context_for(tmp_path)
    try:
        run_for(context, 1, 1.0, steps=[(0.3, 4)], drain_s=10)
    finally:
        context.close()
    assert active["peak"] == 4
