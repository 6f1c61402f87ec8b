"""Stress runs over Locust's real runner: users for a duration, load shapes, and the drain at the end."""

import json
from datetime import datetime

import gevent
import pytest
from typer.testing import CliRunner

from convoload.config import Config
from convoload.events import ConversationFinished, ConversationStarted
from convoload.load.context import RunContext
from convoload.load.engine import run_for
from convoload.load.shapes import SpikeShape, SteadyShape
from convoload.store.journal import read_journal
from tests.helpers import run_dirs


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
        result = run_for(context, SteadyShape(3, 0.6), drain_s=10)
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
        result = run_for(context, SteadyShape(3, 0.3), drain_s=0)
        document = context.aggregate()
    finally:
        context.close()
    assert result.interrupted and document["summary"]["interrupted_conversations"] == 3


class WatchedSpike(SpikeShape):
    """A spike that notes, at each of the runner's ticks, how many users the runner really has."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen: list[tuple[int, tuple[int, float] | None]] = []

    def tick(self):
        wanted = super().tick()
        self.seen.append((self.get_current_user_count(), wanted))
        return wanted


@pytest.mark.slow
def test_the_runner_follows_the_shape_up_and_down(tmp_path):
    # 6 s: one user until 2.4 s, five until 4.2 s, then one again; Locust ticks about once a second
    context, active = context_for(tmp_path)
    shape = WatchedSpike(5, 6.0)
    try:
        result = run_for(context, shape, drain_s=10)
        document = context.aggregate()
    finally:
        context.close()
    users = [count for count, _ in shape.seen]
    wanted = [tick for _, tick in shape.seen]
    assert wanted[0] == (1, 1.0) and (5, 5.0) in wanted and wanted[-2:] == [(1, 5.0), None]
    assert max(users) == 5 and active["peak"] == 5  # the spike's users all held conversations
    assert users[-1] == 1  # a tick after the way down the runner has one user again
    assert not result.interrupted and document["summary"]["interrupted_conversations"] == 0


def peak_concurrency(records) -> int:
    """The most conversations under way at once, from their start and end times."""
    edges = sorted(
        [(datetime.fromisoformat(r.started_at), 1) for r in records]
        + [(datetime.fromisoformat(r.finished_at), -1) for r in records]
    )
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    return peak


@pytest.mark.e2e
@pytest.mark.slow
def test_stress_command_runs_a_spike_profile(tmp_path):
    from convoload.cli import app

    config = tmp_path / "stress.yaml"
    config.write_text(
        json.dumps(
            {
                "run": {"seed": 2, "runs_dir": str(tmp_path / "runs")},
                "target": {"type": "python", "function": "tests.test_stress:slow_agent"},
            }
        )
    )
    args = ["stress", "--config", str(config), "-u", "5", "-t", "6", "--profile", "spike", "--drain", "10"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "5 users for 6 s (spike)" in " ".join(result.output.split())
    (run_dir,) = run_dirs(tmp_path / "runs")
    aggregate = json.loads((run_dir / "aggregate.json").read_text())
    assert aggregate["run"]["plan"] == {"users": 5, "duration_s": 6.0, "profile": "spike"}
    assert aggregate["summary"]["interrupted_conversations"] == 0
    records = read_journal(run_dir / "journal.jsonl")
    assert len(records) == aggregate["summary"]["total_conversations"]
    assert peak_concurrency(records) == 5
