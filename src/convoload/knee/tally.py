"""Each conversation counted in the step it started in; the SLOs checked over a step, live and at its end.

A conversation that starts during a step's warm-up is counted as such and not measured; one that
starts in the measured part belongs to that step, whenever it finishes: goal rate, turns to goal,
tokens and cost come from its finished record. A turn belongs to the step in whose measured part it
was sent, whichever conversation it is in: turn latency and errors are those of the concurrency the
turn met (a conversation of a few turns a second outlives a short step), and known as turns
complete, before the conversations end.

The live check (`during`, k6's abortOnFail with delayAbortEval) looks at a sliding window: what the
step's conversations did in the last `abort_after_s` seconds, once the step has been measured that
long. A step whose window breaks an SLO stops the run there (unless the run does not abort).

The conversation judge scores a run once it has ended (judge.enabled, `capacity --judge`): each
step's `judge` comes from the verdicts on its measured conversations, and SLOs on the judge
(judge_pass_rate, judge_score) are checked then, over every step measured. They never stop a run
early: while it runs they have no value, and a value not yet known is no reason to stop.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from convoload.events import ConversationFinished, ConversationStarted, EventBus, ReplyReceived, TurnFailed
from convoload.knee.shape import CapacityShape, StepWindow
from convoload.model import ConversationRecord, Outcome, percentile
from convoload.model.capacity import FailedConversation, Slo, SloCheck, StepJudgement, StepStats, users
from convoload.model.judgement import Judgement
from convoload.store.journal import CONVERSATIONS_DIR


@dataclass(slots=True)
class _Turn:
    at: float
    latency_s: float | None
    error: str | None


@dataclass(slots=True)
class _Finished:
    """What a step keeps of a finished conversation (not the record: a long run finishes many)."""

    at: float
    session_id: str
    user_id: int
    persona: str
    outcome: Outcome | None
    iterations: int
    tokens: int
    cost_usd: float
    agent_cost_usd: float

    @classmethod
    def of(cls, at: float, record: ConversationRecord) -> _Finished:
        usage = record.usage
        return cls(
            at,
            record.session_id,
            record.user_id,
            record.persona,
            record.outcome,
            record.iterations,
            usage.total_tokens,
            usage.cost_usd,
            record.agent_cost_usd,
        )

    @property
    def goal_reached(self) -> bool:
        return self.outcome == Outcome.GOAL_REACHED


@dataclass(slots=True)
class _StepData:
    window: StepWindow
    started: int = 0
    warm_up: int = 0
    turns: list[_Turn] = field(default_factory=list)
    finished: list[_Finished] = field(default_factory=list)


def check(slos: list[Slo], stats: StepStats) -> list[SloCheck]:
    return [SloCheck(slo=s, value=(v := stats.metric(s.metric)), passed=s.holds(v)) for s in slos]


def _pct(values: list[float], p: float) -> float | None:
    return round(percentile(sorted(values), p), 6) if values else None


def judged(finished: list[_Finished], judgements: Mapping[str, Judgement]) -> StepJudgement:
    """The judge's verdicts on a step's conversations (those it has one for)."""
    found = [j for f in finished if (j := judgements.get(f.session_id)) is not None]
    scored = [j for j in found if j.status == "judged"]
    passed = sum(bool(j.passed) for j in scored)
    scores = [j.score for j in scored if j.score is not None]
    by_criterion: dict[str, list[float]] = {}
    for j in scored:
        for c in j.criteria:
            by_criterion.setdefault(c.id, []).append(c.normalised)
    return StepJudgement(
        judged=len(scored),
        passed=passed,
        criteria={cid: round(sum(v) / len(v), 4) for cid, v in by_criterion.items()},
        judge_errors=len(found) - len(scored),
        pass_rate=round(passed / len(scored), 6) if scored else None,
        mean_score=round(sum(scores) / len(scores), 6) if scores else None,
        cost_usd=round(math.fsum(j.usage.cost_usd for j in found), 8),
    )


def measure(
    data: _StepData,
    slos: list[Slo],
    since: float | None = None,
    judgements: Mapping[str, Judgement] | None = None,
) -> StepStats:
    """The step's numbers (from `since` seconds into the run on, for the live window) and its checks;
    with `judgements` (by session id), the judge's scores of its conversations too."""
    window = data.window
    turns = [t for t in data.turns if since is None or t.at >= since]
    finished = [f for f in data.finished if since is None or f.at >= since]
    ended = [r for r in finished if r.outcome != Outcome.INTERRUPTED]
    goals = [r for r in finished if r.goal_reached]
    latencies = [t.latency_s for t in turns if t.error is None and t.latency_s is not None]
    errors = Counter(t.error for t in turns if t.error is not None)
    tokens = sum(r.tokens for r in finished)
    cost = math.fsum(r.cost_usd for r in finished)
    agent_cost = math.fsum(r.agent_cost_usd for r in finished)
    judge = judged(finished, judgements) if judgements is not None else None
    # Cost per success: simulated users + what the agent reported + the judge, as the run's summary.
    spent = cost + agent_cost + (judge.cost_usd if judge is not None else 0.0)
    stats = StepStats(
        index=window.index,
        users=window.users,
        start_s=round(window.start_s, 3),
        measure_from_s=round(window.measure_from_s, 3),
        end_s=round(window.end_s if window.end_s is not None else window.measure_from_s, 3),
        conversations_started=data.started,
        conversations_finished=len(finished),
        warm_up_conversations=data.warm_up,
        goals=len(goals),
        interrupted=len(finished) - len(ended),
        goal_rate=round(len(goals) / len(ended), 6) if ended else None,
        turns_to_goal_p50=_pct([float(r.iterations) for r in goals], 50),
        turns_to_goal_p95=_pct([float(r.iterations) for r in goals], 95),
        turns=len(turns),
        failed_turns=sum(errors.values()),
        p50_turn_s=_pct(latencies, 50),
        p95_turn_s=_pct(latencies, 95),
        p99_turn_s=_pct(latencies, 99),
        error_rate=round(sum(errors.values()) / len(turns), 6) if turns else None,
        errors_by_kind=dict(sorted(errors.items())),
        tokens=tokens,
        cost_usd=round(cost, 8),
        agent_cost_usd=round(agent_cost, 8),
        tokens_per_success=round(tokens / len(goals), 3) if goals else None,
        cost_per_success_usd=round(spent / len(goals), 8) if goals else None,
        judge=judge,
        cut_short=window.cut_short,
        failed_conversations=[
            FailedConversation(
                session_id=r.session_id,
                user_id=r.user_id,
                persona=r.persona,
                outcome=r.outcome.value if r.outcome else None,
                transcript=f"{CONVERSATIONS_DIR}/conversation_{r.user_id:05d}_{r.session_id}.json",
            )
            for r in finished
            if not r.goal_reached
        ],
    )
    checks = check(slos, stats)
    return stats.model_copy(update={"checks": checks, "passed": all(c.passed for c in checks)})


def _epoch(stamp: str) -> float:
    """A record's UTC timestamp (2026-11-23T14:05:09.123Z) in seconds since the epoch."""
    return datetime.fromisoformat(stamp).timestamp()


def _evident(broken: list[SloCheck]) -> list[SloCheck]:
    """The SLOs broken by a measured value: while conversations are still under way, a metric without
    data yet (no conversation of the step finished) is no reason to stop; the step's final
    measure, once the run has ended, counts it as broken."""
    return [c for c in broken if c.value is not None]


class CapacityTally:
    """Follows a run's events for the shape's steps; the shape's referee."""

    def __init__(self, shape: CapacityShape, slos: list[Slo], *, abort_after_s: float, abort: bool) -> None:
        self.shape = shape
        self.slos = slos
        self.abort_after_s = abort_after_s
        self.abort = abort
        self._steps: list[_StepData] = []
        self._sessions: dict[str, _StepData] = {}  # measured conversations under way
        shape.referee = self

    def attach(self, bus: EventBus) -> None:
        bus.subscribe(ConversationStarted, self._on_started)
        bus.subscribe(ReplyReceived, self._on_reply)
        bus.subscribe(TurnFailed, self._on_failed)
        bus.subscribe(ConversationFinished, self._on_finished)

    # -- events ---------------------------------------------------------------------------------------
    def _data(self, window: StepWindow) -> _StepData:
        while len(self._steps) <= window.index:
            self._steps.append(_StepData(self.shape.windows[len(self._steps)]))
        return self._steps[window.index]

    def _on_started(self, event: ConversationStarted) -> None:
        window = self.shape.current
        if window is None:
            return  # after the last step (while the run drains): belongs to none
        data = self._data(window)
        if self.shape.now() < window.measure_from_s:
            data.warm_up += 1
            return
        data.started += 1
        self._sessions[event.session_id] = data

    def _window_at(self, at: float) -> StepWindow | None:
        """The step running at `at` seconds into the run (None: before the first, after the last)."""
        for window in reversed(self.shape.windows):
            if window.start_s <= at:
                return None if window.end_s is not None and at >= window.end_s else window
        return None

    def _measuring(self, at: float) -> _StepData | None:
        """The step whose measured part holds the moment `at` (None: a warm-up, or after the steps)."""
        window = self._window_at(at)
        return None if window is None or at < window.measure_from_s else self._data(window)

    def _on_reply(self, event: ReplyReceived) -> None:
        latency = event.turn.latency_ms
        latency_s = None if latency is None else latency / 1000
        sent = self.shape.now() - (latency_s or 0.0)
        data = self._measuring(sent)
        if data is not None:
            data.turns.append(_Turn(sent, latency_s, None))

    def _on_failed(self, event: TurnFailed) -> None:
        now = self.shape.now()
        data = self._measuring(now)
        if data is not None:
            data.turns.append(_Turn(now, None, event.error.kind.value))

    def _on_finished(self, event: ConversationFinished) -> None:
        data = self._sessions.pop(event.session_id, None)
        if data is not None:
            data.finished.append(_Finished.of(self.shape.now(), event.record))

    def add_record(self, record: ConversationRecord) -> None:
        """A finished conversation known only by its record (a distributed run's master, which sees
        no events): placed by its timestamps, its start and its turns', on the shape's clock."""
        origin = time.time() - self.shape.now()  # the wall-clock time of the shape's 0
        window = self._window_at(_epoch(record.started_at) - origin)
        if window is not None:
            data = self._data(window)
            if _epoch(record.started_at) - origin < window.measure_from_s:
                data.warm_up += 1
            else:
                data.started += 1
                data.finished.append(_Finished.of(self.shape.now(), record))
        for turn in record.turns:
            sent = _epoch(turn.sent_at) - origin
            turn_data = self._measuring(sent)
            if turn_data is not None:
                latency_s = None if turn.latency_ms is None else turn.latency_ms / 1000
                error = turn.error.kind.value if turn.error is not None else None
                turn_data.turns.append(_Turn(sent, None if error else latency_s, error))

    # -- referee --------------------------------------------------------------------------------------
    def during(self, step: StepWindow, now: float) -> str | None:
        if not self.abort or now - step.measure_from_s < self.abort_after_s:
            return None
        live = measure(self._data(step), self.slos, since=now - self.abort_after_s)
        broken = _evident(live.broken)
        if not broken:
            return None
        why = "; ".join(c.text for c in broken)
        return f"step {users(step.users)} broke {why} over its last {self.abort_after_s:g} s"

    def after(self, step: StepWindow, now: float) -> str | None:
        if not self.abort:
            return None
        broken = _evident(measure(self._data(step), self.slos).broken)
        if not broken:
            return None
        why = "; ".join(c.text for c in broken)
        return f"step {users(step.users)} broke {why}"

    # -- the end --------------------------------------------------------------------------------------
    def steps(self, judgements: Mapping[str, Judgement] | None = None) -> list[StepStats]:
        """Every step that ran, measured over all its conversations (call once the run has ended);
        `judgements`: the judge's verdicts on the run's conversations, by session id."""
        for window in self.shape.windows:
            self._data(window)
        return [measure(data, self.slos, judgements=judgements) for data in self._steps]
