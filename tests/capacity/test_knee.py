"""`convoload capacity` finds a known knee: the bundled ticket agent serving at most 8 turns at once (the
rest queue, first come first served) with a fixed service time. Below the limit a turn takes the
service time; past it, the queue ahead of it: p95 doubles at 16 users and doubles again at 32."""

import importlib
import json

import httpx
import pytest

import convoload
from convoload.model.capacity import CAPACITY_NAME, CapacityResult
from convoload.store.results import ResultsStore
from convoload_demo.tickets.launcher import DemoTicketServer
from convoload_demo.tickets.settings import TicketServerSettings
from tests.helpers import run_dirs, write

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LIMIT = 8
SERVICE_S = 0.25


def config_file(tmp_path):
    return write(
        tmp_path / "capacity.yaml",
        f"""
run:
  seed: 7
  runs_dir: {tmp_path / "runs"}
target:
  type: demo
  demo:
    agent: tickets
    reply_delay_s: {SERVICE_S}
    jitter_s: 0.0
    max_concurrent_turns: {LIMIT}
""",
    )


def test_capacity_finds_the_agents_concurrency_limit_within_one_step(tmp_path):
    importlib.import_module("convoload.knee.run")  # a package named capacity would replace the function

    assert callable(convoload.capacity)
    steps = [2, 4, 8, 16, 32]
    result = convoload.capacity(
        config_file(tmp_path),
        steps=steps,
        step_duration_s=1.0,
        warm_up_s=1.0,
        abort_after_s=5.0,
        slos=[f"p95_turn_s<={1.6 * SERVICE_S}"],  # a turn that waited behind a full house breaks it
        drain_s=2.0,
    )
    verdict = result.verdict
    position = steps.index(LIMIT)
    assert verdict.knee_users in steps[position - 1 : position + 2], verdict.line
    assert verdict.broke_users is not None and verdict.broke_users > verdict.knee_users
    assert verdict.broken[0].slo.metric == "p95_turn_s" and verdict.broken[0].value > 1.6 * SERVICE_S
    assert result.stopped_early and str(verdict.broke_users) in result.stopped_early
    assert [s.users for s in result.steps] == steps[: steps.index(verdict.broke_users) + 1], "stopped there"
    below = result.steps[0]
    assert below.passed and below.p95_turn_s < 1.6 * SERVICE_S and below.error_rate == 0.0
    # Each step measured the turns sent in it (conversations of ~9 turns outlive these short steps).
    assert all(step.turns >= step.users for step in result.steps)

    (run_dir,) = run_dirs(tmp_path / "runs")
    written = (run_dir / CAPACITY_NAME).read_text(encoding="utf-8")
    assert CapacityResult.from_json(written) == result
    assert json.loads(written)["verdict"]["knee_users"] == verdict.knee_users
    assert (run_dir / "capacity.html").is_file() and (run_dir / "report.html").is_file()
    with ResultsStore(f"sqlite:///{tmp_path / 'runs' / 'results.sqlite'}") as store:
        from convoload.knee.store import stored_capacity

        assert stored_capacity(store, result.run_id) == result


def test_the_limit_queues_turns_and_never_serves_more_at_once():
    settings = TicketServerSettings(reply_delay_s=0.2, jitter_s=0.0, max_concurrent_turns=2)
    assert settings.cli_args()[-2:] == ["--max-concurrent-turns", "2"]
    with DemoTicketServer(settings) as server, httpx.Client(timeout=10) as client:
        import concurrent.futures

        def turn(i):
            return client.post(server.chat_url, json={"session_id": f"s{i}", "text": "oi"}).status_code

        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            assert list(pool.map(turn, range(6))) == [200] * 6
        turns = client.get(server.health_url).json()["turns"]
    assert turns["limit"] == 2 and turns["peak"] == 2 and turns["served"] == 6
    assert turns["waited"] >= 3, "past the limit turns waited their place"
