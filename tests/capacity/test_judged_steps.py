"""The conversation judge per capacity step: each step's `judge` from the verdicts on the conversations
that started in it, SLOs on the judge checked after the run (never stopping it early), cost per success
counting the agent's reported cost and the judge's, the judge column on the page and in the table."""

import json

import pytest

from convoload.config import Config
from convoload.errors import ConfigError
from convoload.events import ConversationFinished, ConversationStarted, ReplyReceived
from convoload.knee.html import render_capacity_html
from convoload.knee.plan import resolve_plan
from convoload.knee.verdict import find_knee
from convoload.model import ConversationRecord, Outcome, TurnRecord
from convoload.model.capacity import CAPACITY_NAME, CapacityResult, CapacitySettings, parse_slo
from convoload.model.judgement import CriterionScore, Judgement, JudgeUsage
from tests.capacity.test_steps import Talk, build
from tests.helpers import invoke, run_dirs, write


class Clock:
    def __init__(self) -> None:
        self.now = 0.0


def verdict(session: str, passed: bool, cost: float = 0.0) -> Judgement:
    score = 1.0 if passed else 0.25
    return Judgement(
        run_id="r",
        session_id=session,
        user_id=1,
        persona="p",
        rubric="tickets",
        status="judged",
        passed=passed,
        score=score,
        criteria=[CriterionScore(id="whatsapp_tone", score=5, normalised=score, passed=passed, reason="r")],
        usage=JudgeUsage(cost_usd=cost, llm_calls=1),
    )


class PaidTalk(Talk):
    """Conversations whose agent reports what each cost (0.01)."""

    def conversation(self, latency_s: float, *, goal: bool = True) -> None:
        self.n += 1
        sid = f"s{self.n}"
        self.bus.emit(ConversationStarted(sid, "p", user_id=self.n))
        turn = TurnRecord(iteration=1, user_text="oi", sent_at="t", latency_ms=latency_s * 1000)
        self.clock.now += latency_s
        self.bus.emit(ReplyReceived(sid, "p", turn=turn))
        record = ConversationRecord(
            run_id="r",
            session_id=sid,
            user_id=self.n,
            persona="p",
            started_at="t",
            outcome=Outcome.GOAL_REACHED if goal else Outcome.MAX_ITERATIONS,
            turns=[turn],
            agent_cost_usd=0.01,
        )
        self.bus.emit(ConversationFinished(sid, "p", record=record))


def two_steps(clock, slos):
    """Step 2 users: s1, s2 (goal) measured; step 4 users: s3 (goal), s4 (no goal). Every conversation
    reports an agent cost of 0.01."""
    shape, tally, bus = build(clock, steps=(2, 4), slos=slos, abort=True, abort_after_s=0.5)
    talk = PaidTalk(bus, clock)
    shape.tick()
    clock.now = 1.5
    for goal in (True, True):
        talk.conversation(0.1, goal=goal)
    clock.now = 2.5
    assert shape.tick() == (2, 2.0), "a judge SLO has no value while running: no reason to stop"
    clock.now = 5.0
    assert shape.tick() == (4, 4.0), "nor after the step"
    clock.now = 6.5
    talk.conversation(0.1, goal=True)
    talk.conversation(0.1, goal=False)
    return tally


def test_each_step_gets_the_verdicts_on_its_own_conversations_and_judge_slos_are_checked_after():
    clock = Clock()
    tally = two_steps(clock, ("judge_pass_rate>=0.75",))
    judgements = {
        "s1": verdict("s1", True, 0.001),
        "s2": verdict("s2", True, 0.001),
        "s3": verdict("s3", True, 0.002),
        "s4": verdict("s4", False, 0.002),
    }
    unjudged = tally.steps()
    assert all(s.judge is None and not s.passed for s in unjudged), "no judgement: no data, no pass"
    first, second = tally.steps(judgements)
    assert first.judge is not None and second.judge is not None
    assert (first.judge.judged, first.judge.passed, first.judge.pass_rate) == (2, 2, 1.0)
    assert (second.judge.judged, second.judge.passed, second.judge.pass_rate) == (2, 1, 0.5)
    assert second.judge.criteria == {"whatsapp_tone": 0.625} and second.judge.mean_score == 0.625
    assert first.judge.cost_usd == pytest.approx(0.002)
    # Cost per success: simulated users (none here) + agent (0.01 each) + judge, per goal reached.
    assert first.agent_cost_usd == pytest.approx(0.02)
    assert first.cost_per_success_usd == pytest.approx((0.02 + 0.002) / 2)
    assert second.cost_per_success_usd == pytest.approx((0.02 + 0.004) / 1)
    assert first.passed and not second.passed
    assert [c.text for c in second.broken] == ["judge_pass_rate>=0.75 (measured 0.5)"]
    knee = find_knee([first, second])
    assert (knee.knee_users, knee.broke_users) == (2, 4)


def test_a_conversation_without_a_verdict_is_not_counted_as_judged():
    clock = Clock()
    tally = two_steps(clock, ("judge_score>=0.5",))
    broken = Judgement(
        run_id="r", session_id="s2", user_id=2, persona="p", rubric="t", status="judge_error", error="x"
    )
    first, second = tally.steps({"s1": verdict("s1", True), "s2": broken})
    assert first.judge is not None and (first.judge.judged, first.judge.judge_errors) == (1, 1)
    assert first.judge.mean_score == 1.0 and first.passed
    assert second.judge is not None and second.judge.judged == 0 and second.judge.pass_rate is None
    assert not second.passed, "a step the judge scored nothing of has no data: the SLO is not met"


def test_a_judge_slo_needs_the_judge(tmp_path):
    with pytest.raises(ConfigError) as info:
        resolve_plan(Config(), slos=["judge_pass_rate>=0.8"], flags={"slos": "--slo"})
    assert str(info.value) == (
        "--slo: judge_pass_rate>=0.8 needs the conversation judge: set judge.enabled (or capacity --judge)"
    )
    judged = Config.model_validate({"judge": {"enabled": True}})
    plan = resolve_plan(judged, slos=["judge_pass_rate>=0.8", "judge_score>0.5"])
    assert [s.text for s in plan.slos] == ["judge_pass_rate>=0.8", "judge_score>0.5"]
    config = write(tmp_path / "c.yaml", "capacity: {slos: ['judge_score>=0.7']}\n")
    ran = invoke("capacity", "-f", str(config), "--runs-dir", str(tmp_path / "runs"))
    assert (
        ran.returncode == 2 and "capacity.slos: judge_score>=0.7 needs the conversation judge" in ran.stderr
    )


def test_the_page_has_a_judge_column_only_for_a_judged_run():
    clock = Clock()
    tally = two_steps(clock, ("judge_pass_rate>=0.75",))
    settings = CapacitySettings(
        steps=[2, 4],
        step_duration_s=4,
        warm_up_s=1,
        abort_after_s=0.5,
        abort=True,
        slos=[parse_slo("judge_pass_rate>=0.75")],
    )

    def page(judgements):
        steps = tally.steps(judgements)
        return render_capacity_html(
            CapacityResult(run_id="r", settings=settings, steps=steps, verdict=find_knee(steps))
        )

    judged = page({"s1": verdict("s1", True), "s3": verdict("s3", False)})
    assert "<th>judge pass rate</th>" in judged
    assert '<td class="judge">100.0 % of 1</td>' in judged and '<td class="judge">0.0 % of 1</td>' in judged
    assert "1 of 1 passed (100.0 %); mean score 1.00" in judged
    # The chart draws the judge's pass rate on the rates' axis, its SLO dashed.
    assert judged.count('<circle data-series="judge_pass_rate"') == 2
    assert 'data-slo="judge_pass_rate&gt;=0.75"' in judged
    plain = page(None)
    assert "judge pass rate" not in plain and 'class="judge"' not in plain
    assert 'data-series="judge_pass_rate"' not in plain


QUICK = """
run: {{seed: 3, runs_dir: {runs}, max_iterations: 3}}
target: {{type: python, function: "tests.capacity.agents:quick_agent"}}
personas: [kataryna]
judge: {{rubric: tickets}}
capacity:
  steps: [1, 2]
  step_duration_s: 1.0
  warm_up_s: 0.3
  slos: ["goal_rate>=0.5", "judge_pass_rate>=0"]
"""


@pytest.mark.e2e
@pytest.mark.slow
def test_capacity_judge_fills_each_step_and_rewrites_the_results(tmp_path):
    config = write(tmp_path / "c.yaml", QUICK.format(runs=tmp_path / "runs"))
    ran = invoke("capacity", "-f", str(config), "--judge", "--no-abort", "--drain", "3")
    assert ran.returncode == 0, ran.stderr
    (run_dir,) = run_dirs(tmp_path / "runs")
    result = CapacityResult.from_json((run_dir / CAPACITY_NAME).read_text(encoding="utf-8"))
    judged_sessions = {
        json.loads(line)["session_id"]
        for line in (run_dir / "judgements.jsonl").read_text(encoding="utf-8").splitlines()
    }
    for step in result.steps:
        assert step.judge is not None, step.users
        assert step.judge.judged + step.judge.judge_errors == step.conversations_finished
        assert step.judge.pass_rate is not None and step.passed
        assert [c.slo.text for c in step.checks] == ["goal_rate>=0.5", "judge_pass_rate>=0"]
    assert sum(s.conversations_finished for s in result.steps) <= len(judged_sessions)
    assert "judge" in ran.stdout and "% of" in ran.stdout  # the table's judge column
    page = (run_dir / "capacity.html").read_text(encoding="utf-8")
    assert "<th>judge pass rate</th>" in page
