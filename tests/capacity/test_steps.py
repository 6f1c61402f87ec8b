"""The steps as a load shape and the tally under a fake clock: attribution to steps, the live abort
over a sliding window (k6's abortOnFail), the stop after a failed step, --no-abort, the knee."""

import pytest

from convoload.events import ConversationFinished, ConversationStarted, EventBus, ReplyReceived
from convoload.knee.shape import CapacityShape
from convoload.knee.tally import CapacityTally
from convoload.knee.verdict import find_knee
from convoload.model import ConversationRecord, Outcome, TurnRecord
from convoload.model.capacity import StepStats, parse_slo


class Clock:
    def __init__(self) -> None:
        self.now = 0.0


@pytest.fixture
def clock():
    return Clock()


def build(clock, steps=(2, 4, 8), *, slos=("p95_turn_s<=0.5",), abort=True, abort_after_s=2.0):
    shape = CapacityShape(list(steps), step_duration_s=4.0, warm_up_s=1.0)
    shape.get_run_time = lambda: clock.now
    tally = CapacityTally(shape, [parse_slo(s) for s in slos], abort_after_s=abort_after_s, abort=abort)
    bus = EventBus()
    tally.attach(bus)
    return shape, tally, bus


class Talk:
    """Conversations as the loop reports them: started, one turn each of a given latency, finished."""

    def __init__(self, bus, clock) -> None:
        self.bus, self.clock, self.n = bus, clock, 0

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
        )
        self.bus.emit(ConversationFinished(sid, "p", record=record))


def test_conversations_count_in_their_step_and_warm_up_ones_are_not_measured(clock):
    shape, tally, bus = build(clock, abort=False)
    talk = Talk(bus, clock)
    assert shape.tick() == (2, 2.0)
    talk.conversation(0.1)  # during the warm-up (0 s - 1 s)
    clock.now = 1.5
    talk.conversation(0.2)
    talk.conversation(0.3, goal=False)
    clock.now = 5.0  # the step has run its 1 s + 4 s
    assert shape.tick() == (4, 4.0)
    clock.now = 6.5
    talk.conversation(0.4)
    steps = tally.steps()
    assert [s.users for s in steps] == [2, 4]
    first = steps[0]
    assert (first.warm_up_conversations, first.conversations_started, first.conversations_finished) == (
        1,
        2,
        2,
    )
    assert first.goals == 1 and first.goal_rate == 0.5
    assert first.p95_turn_s == pytest.approx(0.295)
    assert [f.session_id for f in first.failed_conversations] == ["s3"]
    assert first.failed_conversations[0].transcript == "conversations/conversation_00003_s3.json"
    assert steps[1].conversations_started == 1 and steps[1].p50_turn_s == pytest.approx(0.4)
    assert (first.start_s, first.measure_from_s, first.end_s) == (0.0, 1.0, 5.0)


def test_a_step_that_breaks_an_slo_over_the_abort_window_stops_the_run_during_it(clock):
    shape, tally, _bus = build(clock)
    talk = Talk(_bus, clock)
    shape.tick()
    clock.now = 1.0
    for _ in range(3):
        talk.conversation(0.9)  # p95 0.9 s against <= 0.5 s
    clock.now = 2.5
    assert shape.tick() == (2, 2.0), "not before the step has been measured for --abort-after"
    clock.now = 3.0
    assert shape.tick() is None
    assert "p95_turn_s<=0.5" in (shape.stop_reason or "") and "over its last 2 s" in shape.stop_reason
    steps = tally.steps()
    assert len(steps) == 1 and steps[0].cut_short and not steps[0].passed
    verdict = find_knee(steps)
    assert verdict.knee_users is None and verdict.broke_users == 2
    assert verdict.broken[0].value == pytest.approx(0.9)


def test_the_sliding_window_forgets_what_is_older_than_abort_after(clock):
    shape, _tally, bus = build(clock)
    talk = Talk(bus, clock)
    shape.tick()
    clock.now = 1.0
    talk.conversation(0.9)  # slow, but early in the step
    clock.now = 3.5
    talk.conversation(0.1)
    clock.now = 4.0  # window 2.0 s - 4.0 s: only the fast turn
    assert shape.tick() == (2, 2.0)


def test_a_failed_step_ends_the_run_at_its_end_unless_no_abort(clock):
    for abort in (True, False):
        clock.now = 0.0
        shape, tally, bus = build(clock, abort=abort, abort_after_s=10.0)  # never during a step
        talk = Talk(bus, clock)
        shape.tick()
        clock.now = 1.0
        talk.conversation(0.1)
        clock.now = 5.0
        assert shape.tick() == (4, 4.0)
        clock.now = 6.0
        talk.conversation(0.8)
        clock.now = 10.0
        tick = shape.tick()
        if abort:
            assert tick is None and shape.stop_reason == "step 4 users broke p95_turn_s<=0.5 (measured 0.8)"
            assert [s.users for s in tally.steps()] == [2, 4]
        else:
            assert tick == (8, 8.0) and shape.stop_reason is None
            clock.now = 11.0
            talk.conversation(0.2)
            clock.now = 15.0
            assert shape.tick() is None  # the last step has run
            steps = tally.steps()
            assert [s.passed for s in steps] == [True, False, True]
            verdict = find_knee(steps)
            assert (verdict.knee_users, verdict.broke_users) == (2, 4), "the first failure is the knee"


def test_a_metric_without_data_stops_nothing_while_running_but_fails_the_step_at_the_end(clock):
    shape, tally, bus = build(clock, slos=("goal_rate>=0.5",), abort_after_s=1.0)
    shape.tick()
    clock.now = 1.0
    bus.emit(ConversationStarted("x", "p", user_id=1))  # under way, never finished
    clock.now = 3.0
    assert shape.tick() == (2, 2.0)
    clock.now = 5.0
    assert shape.tick() == (4, 4.0)
    first = tally.steps()[0]
    assert not first.passed and first.checks[0].value is None and "no data" in first.checks[0].text


def test_the_knee_is_the_last_step_before_the_first_failure():
    def step(users, passed):
        return StepStats(index=0, users=users, start_s=0, measure_from_s=0, end_s=1, passed=passed)

    assert find_knee([step(1, True), step(2, True)]).model_dump() == {
        "knee_users": 2,
        "broke_users": None,
        "broken": [],
    }
    assert find_knee([step(1, True), step(2, False), step(4, True)]).knee_users == 1
    assert "every step met the SLOs" in find_knee([step(1, True)]).line


def test_a_master_places_records_by_their_timestamps(clock):
    """A distributed run's master sees no events, only records: their start and turn times place them."""
    import time
    from datetime import UTC, datetime

    shape, tally, _bus = build(clock, abort=False)
    shape.tick()
    clock.now = 5.0
    shape.tick()  # the second step from 5 s
    clock.now = 9.0
    origin = time.time() - clock.now

    def stamp(at: float) -> str:
        return (
            datetime.fromtimestamp(origin + at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        )

    def record(sid: str, started: float, sent: list[float], goal: bool = True) -> ConversationRecord:
        turns = [
            TurnRecord(iteration=i + 1, user_text="oi", sent_at=stamp(t), latency_ms=300)
            for i, t in enumerate(sent)
        ]
        outcome = Outcome.GOAL_REACHED if goal else Outcome.MAX_ITERATIONS
        return ConversationRecord(
            run_id="r",
            session_id=sid,
            user_id=1,
            persona="p",
            started_at=stamp(started),
            outcome=outcome,
            turns=turns,
        )

    tally.add_record(record("warm", 0.2, [0.2, 1.5]))  # started in the warm-up: its second turn is measured
    tally.add_record(record("a", 2.0, [2.0, 4.6, 5.2], goal=False))  # its last turn met the second step
    tally.add_record(record("b", 6.5, [6.5]))
    first, second = tally.steps()
    assert (first.warm_up_conversations, first.conversations_started, first.goals) == (1, 1, 0)
    assert first.turns == 3 and first.failed_conversations[0].session_id == "a"
    assert (second.conversations_started, second.goals, second.turns) == (1, 1, 1)
    assert second.p95_turn_s == pytest.approx(0.3)
