"""Metrics over the synthetic conversations of the last few minutes (the metrics window).

Only what the numbers need is kept per conversation, so a window holds thousands of them
cheaply; the records themselves are in the journal and the results store.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise

from convoload.model import ConversationRecord, Outcome, distribution
from convoload.model.judgement import Judgement

FALLBACK_HOOK = "ollama_fallbacks"


@dataclass(frozen=True)
class _Entry:
    at: float
    goal_reached: bool
    latencies_ms: tuple[float, ...]
    turns: int
    failed_turns: int
    transitions: tuple[tuple[str, str], ...]
    fallbacks: int
    cost_usd: float = 0.0  # simulated user's and agent-reported cost


@dataclass(frozen=True)
class _Verdict:
    """What the window keeps of a judgement (when the monitor's conversations are judged)."""

    at: float
    judged: bool  # False: the judge could not score the conversation (no score, no pass)
    passed: bool
    score: float | None
    cost_usd: float


@dataclass
class WindowMetrics:
    conversations: int
    success_rate: float | None  # None: no conversation finished in the window (no data, not 0 %)
    error_rate: float | None
    response_time_mean_s: float | None
    response_time_p95_s: float | None
    fallback_rate: float | None
    transitions: Counter[tuple[str, str]] = field(default_factory=Counter)
    cost_per_success_usd: float | None = None  # None: no goal reached in the window
    judge_score: float | None = None  # None: no conversation judged in the window
    judge_pass_rate: float | None = None


@dataclass
class Totals:
    """Running totals since the monitor started (Prometheus counters)."""

    outcomes: Counter[str] = field(default_factory=Counter)
    error_kinds: Counter[str] = field(default_factory=Counter)
    simulator_faults: Counter[str] = field(default_factory=Counter)  # outcome simulator_error, by fault
    tokens: int = 0
    cost_usd: float = 0.0
    judge_cost_usd: float = 0.0


class ConversationWindow:
    def __init__(self, window_s: float, clock: Callable[[], float] = time.time) -> None:
        self.window_s = window_s
        self._clock = clock
        self._entries: deque[_Entry] = deque()
        self._verdicts: deque[_Verdict] = deque()
        self._lock = threading.Lock()
        self.totals = Totals()

    def add(self, record: ConversationRecord) -> None:
        with self._lock:
            self.totals.outcomes[record.outcome.value if record.outcome else "unknown"] += 1
            self.totals.error_kinds.update(t.error.kind.value for t in record.turns if t.error is not None)
            self.totals.tokens += record.usage.total_tokens
            self.totals.cost_usd += record.usage.cost_usd
            if record.outcome is Outcome.SIMULATOR_ERROR:
                fault = record.simulator_fault.value if record.simulator_fault else "unknown"
                self.totals.simulator_faults[fault] += 1
        if record.outcome in (Outcome.INTERRUPTED, Outcome.SIMULATOR_ERROR):
            # Cut off by the monitor itself (a shutdown, a job's end), or broken by the simulated user:
            # no verdict on the agent, so no dip in the success ratio (and no alert) for it.
            return
        agents = [t.agent for t in record.turns if t.agent]
        entry = _Entry(
            at=self._clock(),
            goal_reached=record.goal_reached,
            latencies_ms=tuple(
                t.latency_ms for t in record.turns if t.error is None and t.latency_ms is not None
            ),
            turns=len(record.turns),
            failed_turns=sum(1 for t in record.turns if t.error is not None),
            transitions=tuple((a, b) for a, b in pairwise(agents) if a != b),
            fallbacks=sum(1 for f in record.findings if f.hook == FALLBACK_HOOK),
            cost_usd=record.usage.cost_usd + record.agent_cost_usd,
        )
        with self._lock:
            self._entries.append(entry)

    def add_judgement(self, judgement: Judgement) -> None:
        """The judge's verdict on a conversation added before: the judge metrics and its cost."""
        verdict = _Verdict(
            at=self._clock(),
            judged=judgement.status == "judged",
            passed=bool(judgement.passed),
            score=judgement.score,
            cost_usd=judgement.usage.cost_usd,
        )
        with self._lock:
            self.totals.judge_cost_usd += verdict.cost_usd
            self._verdicts.append(verdict)

    def metrics(self) -> WindowMetrics:
        with self._lock:
            horizon = self._clock() - self.window_s
            while self._entries and self._entries[0].at < horizon:
                self._entries.popleft()
            while self._verdicts and self._verdicts[0].at < horizon:
                self._verdicts.popleft()
            entries = list(self._entries)
            verdicts = list(self._verdicts)
        if not entries:
            return WindowMetrics(0, None, None, None, None, None)
        judged = [v for v in verdicts if v.judged]
        scores = [v.score for v in judged if v.score is not None]
        turns = sum(e.turns for e in entries)
        latency = distribution(ms for e in entries for ms in e.latencies_ms)
        mean, p95 = latency.get("mean"), latency.get("p95")
        goals = sum(e.goal_reached for e in entries)
        return WindowMetrics(
            conversations=len(entries),
            success_rate=goals / len(entries),
            error_rate=sum(e.failed_turns for e in entries) / turns if turns else None,
            response_time_mean_s=mean / 1000 if mean is not None else None,
            response_time_p95_s=p95 / 1000 if p95 is not None else None,
            fallback_rate=sum(e.fallbacks for e in entries) / turns if turns else None,
            transitions=Counter(t for e in entries for t in e.transitions),
            # The judge's cost is part of what a success costs (simulated users + agent + judge).
            cost_per_success_usd=(sum(e.cost_usd for e in entries) + sum(v.cost_usd for v in verdicts))
            / goals
            if goals
            else None,
            judge_score=sum(scores) / len(scores) if scores else None,
            judge_pass_rate=sum(v.passed for v in judged) / len(judged) if judged else None,
        )
