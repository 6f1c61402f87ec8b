"""`convoload capacity --workers 2`: Locust's master steps the cluster, its tally reads the records the
workers ship; against one shared agent that serves 4 turns at once it finds the same knee, within one
step, as one process does (tests/capacity/test_knee.py)."""

import httpx
import pytest

from convoload.model.capacity import CAPACITY_NAME, CapacityResult
from convoload_demo.faulty import FaultyServer, FaultyServerSettings
from tests.helpers import invoke, run_dirs, write

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LIMIT = 4
SERVICE_S = 0.25


@pytest.fixture(scope="module")
def agent():
    settings = FaultyServerSettings(goal_turn=2, reply_delay_s=SERVICE_S, max_concurrent_turns=LIMIT)
    with FaultyServer(settings) as server:
        yield server


def test_workers_find_the_shared_agents_limit_within_one_step(agent, tmp_path):
    config = write(
        tmp_path / "c.yaml",
        f"""
run: {{seed: 5, runs_dir: {tmp_path / "runs"}, max_iterations: 4}}
llm: {{providers: [{{name: unused, model: unused, base_url: "http://127.0.0.1:9/v1"}}], cache_path: null}}
target:
  type: http
  url: {agent.chat_url}
  body: {{session_id: "{{session_id}}", message: "{{text}}"}}
  reply_path: reply
  agent_path: agent
capacity:
  steps: [2, 4, 8, 16]
  step_duration_s: 1.0
  warm_up_s: 1.0
  slos: ["p95_turn_s<={1.8 * SERVICE_S}"]  # cold connections add a little at first
""",
    )
    ran = invoke("capacity", "-f", str(config), "--workers", "2", "--drain", "3")
    assert ran.returncode == 0, ran.stderr + ran.stdout
    (run_dir,) = run_dirs(tmp_path / "runs")
    result = CapacityResult.from_json((run_dir / CAPACITY_NAME).read_text(encoding="utf-8"))
    steps = result.settings.steps
    position = steps.index(LIMIT)
    assert result.verdict.knee_users in steps[position - 1 : position + 2], result.verdict.line
    assert result.verdict.broke_users is not None and result.verdict.broke_users > result.verdict.knee_users
    assert result.verdict.line in ran.stdout
    assert (run_dir / "capacity.html").is_file() and (run_dir / "worker-0").is_dir()
    assert all(step.turns > 0 for step in result.steps), "every step measured the turns the workers shipped"
    turns = httpx.get(agent.health_url).json()["turns"]
    assert turns["peak"] == LIMIT and turns["waited"] > 0, "past the limit, turns queued at the agent"


def test_workers_judged_each_step_gets_the_judges_scores(agent, tmp_path):
    import json

    from convoload.judge.runner import JUDGEMENTS_NAME

    rubric = write(
        tmp_path / "chat.yaml",
        "name: chat\ncriteria:\n"
        "  - {id: whatsapp_tone, description: short friendly chat messages, scale: 1-5}\n",
    )
    config = write(
        tmp_path / "c.yaml",
        f"""
run: {{seed: 5, runs_dir: {tmp_path / "runs"}, max_iterations: 3}}
llm: {{providers: [{{name: unused, model: unused, base_url: "http://127.0.0.1:9/v1"}}], cache_path: null}}
target:
  type: http
  url: {agent.chat_url}
  body: {{session_id: "{{session_id}}", message: "{{text}}"}}
  reply_path: reply
judge: {{rubric: {rubric}}}
capacity:
  steps: [1, 2]
  step_duration_s: 1.0
  warm_up_s: 0.5
  slos: ["judge_pass_rate>=0"]
""",
    )
    ran = invoke("capacity", "-f", str(config), "--workers", "2", "--drain", "3", "--judge")
    assert ran.returncode == 0, ran.stderr + ran.stdout
    (run_dir,) = run_dirs(tmp_path / "runs")
    result = CapacityResult.from_json((run_dir / CAPACITY_NAME).read_text(encoding="utf-8"))
    journal = (run_dir / "journal.jsonl").read_text(encoding="utf-8").splitlines()
    judged = (run_dir / JUDGEMENTS_NAME).read_text(encoding="utf-8").splitlines()
    assert len(judged) == len(journal) > 0  # the master judged every conversation of the run
    assert json.loads((run_dir / "aggregate.json").read_text())["judgement"]["conversations"] == len(journal)
    for step in result.steps:
        assert step.judge is not None and step.judge.judged + step.judge.judge_errors > 0, step
        assert [c.slo.metric for c in step.checks] == ["judge_pass_rate"] and step.passed
