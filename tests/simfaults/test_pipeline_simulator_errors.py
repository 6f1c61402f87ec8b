"""The pipeline keeps conversations the simulated user broke out of a scenario's success rate, pass^k
and the overall rate, as a run's aggregate does."""

from pathlib import Path

from convoload.bundled import StartedSystem
from convoload.model import ConversationRecord, Outcome, SimulatorFault, TurnRecord
from convoload.pipeline import Scenario, ScenarioSuite
from convoload.pipeline.runner import _overall, _Repetition, _scenario_result


def record(user_id: int, outcome: Outcome, attempt: int) -> ConversationRecord:
    turn = TurnRecord(iteration=1, user_text="oi", sent_at="", reply_text="ok", latency_ms=10.0)
    reached = outcome == Outcome.GOAL_REACHED
    return ConversationRecord(
        run_id="r",
        session_id=f"s{attempt}-{user_id}",
        user_id=user_id,
        persona="Ana",
        started_at="",
        turns=[] if outcome == Outcome.SIMULATOR_ERROR else [turn],
        outcome=outcome,
        goal_reached=reached,
        **({"simulator_fault": SimulatorFault.ROLE_LEAK} if outcome == Outcome.SIMULATOR_ERROR else {}),
    )


def test_a_broken_simulator_is_out_of_the_success_rate_and_pass_k(tmp_path: Path) -> None:
    scenario = Scenario(name="buy", conversations=3)
    suite = ScenarioSuite(name="s", scenarios=(scenario,), personas=("Ana",))
    system = StartedSystem(name="none", url="http://127.0.0.1:9", target=None)
    # User 1 wins twice, user 2 fails once, user 3's simulated customer broke once: the agent was
    # tested on 5 conversations, won 4; pass^2 over the two slots that were tested twice: 1 of 2.
    first = [
        record(1, Outcome.GOAL_REACHED, 0),
        record(2, Outcome.GOAL_REACHED, 0),
        record(3, Outcome.SIMULATOR_ERROR, 0),
    ]
    second = [
        record(1, Outcome.GOAL_REACHED, 1),
        record(2, Outcome.MAX_ITERATIONS, 1),
        record(3, Outcome.GOAL_REACHED, 1),
    ]
    repetitions = [_Repetition(first, tmp_path / "a"), _Repetition(second, tmp_path / "b")]
    result = _scenario_result(suite, scenario, repetitions, system)
    assert result.conversations == 6 and result.simulator_errors == 1
    assert result.successful == 4 and result.success_rate == 0.8
    assert result.pass_k is not None and result.pass_k.value == 0.5
    overall = _overall([result], first + second, True, [])
    assert overall.conversations == 5 and overall.success_rate == 0.8
