"""The run aggregate: success, iterations, exact latency percentiles, errors, cost.

Percentiles are computed from every recorded value (no bucketing), with linear
interpolation between closest ranks.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from convoload.conversation.records import ConversationRecord, Outcome, Usage

PERCENTILES = (50, 90, 95, 99)


def percentile(sorted_values: Sequence[float], p: float) -> float:
    if not sorted_values:
        return math.nan
    if len(sorted_values) == 1:
        return sorted_values[0]
    rank = (len(sorted_values) - 1) * p / 100
    low = math.floor(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


def distribution(values: Iterable[float]) -> dict[str, float | int | None]:
    data = sorted(v for v in values if v is not None)
    if not data:
        return {"count": 0}
    out: dict[str, float | int | None] = {
        "count": len(data),
        "min": round(data[0], 3),
        "mean": round(sum(data) / len(data), 3),
    }
    for p in PERCENTILES:
        out[f"p{p}"] = round(percentile(data, p), 3)
    out["max"] = round(data[-1], 3)
    return out


@dataclass
class _Tally:
    """What one group of conversations (the run, or one persona) contributes to the aggregate."""

    conversations: int = 0
    successful: int = 0
    iterations: int = 0
    iterations_to_goal: int = 0
    turns: int = 0
    failed_turns: int = 0
    agent_changes: int = 0
    transitions: Counter = field(default_factory=Counter)
    outcomes: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    turn_ms: list[float] = field(default_factory=list)
    ack_ms: list[float] = field(default_factory=list)
    conversation_ms: list[float] = field(default_factory=list)

    def add(self, record: ConversationRecord) -> None:
        self.conversations += 1
        self.iterations += record.iterations
        if record.goal_reached:
            self.successful += 1
            self.iterations_to_goal += record.iterations
        self.outcomes[record.outcome.value if record.outcome else "unknown"] += 1
        if record.error:
            self.errors[record.error.kind.value] += 1
        for a, b in pairwise(record.agents):
            if a != b:
                self.agent_changes += 1
                self.transitions[f"{a} → {b}"] += 1
        for turn in record.turns:
            self.turns += 1
            if turn.error is not None:
                self.failed_turns += 1
            elif turn.latency_ms is not None:
                self.turn_ms.append(turn.latency_ms)
            if turn.ack_ms is not None:
                self.ack_ms.append(turn.ack_ms)
        if record.outcome != Outcome.INTERRUPTED:
            self.conversation_ms.append(record.total_time_ms)

    def rate(self) -> float:
        return round(self.successful / self.conversations, 4) if self.conversations else 0.0


class Aggregator:
    """Builds the aggregate as conversations finish, keeping only numbers, not whole records."""

    def __init__(self) -> None:
        self.run = _Tally()
        self.personas: dict[str, _Tally] = defaultdict(_Tally)
        self.summaries: list[dict[str, Any]] = []
        self.usage = Usage()
        self.findings: dict[str, dict[str, Any]] = {}

    def add(self, record: ConversationRecord) -> None:
        self.run.add(record)
        self.personas[record.persona].add(record)
        self.summaries.append(record.summary())
        self.usage.add(record.usage)
        for finding in record.findings:
            entry = self.findings.setdefault(
                finding.hook,
                {"priority": finding.priority, "count": 0, "conversations": set(), "examples": []},
            )
            entry["count"] += 1
            entry["conversations"].add(record.session_id)
            if len(entry["examples"]) < 3:
                entry["examples"].append(
                    {"persona": finding.persona, "iteration": finding.iteration, "message": finding.message}
                )

    def document(self, meta: dict[str, Any] | None = None) -> dict[str, Any]:
        t = self.run
        summary = {
            "total_conversations": t.conversations,
            "successful_conversations": t.successful,
            "success_rate": t.rate(),
            "success_rate_pct": f"{100 * t.successful / t.conversations:.2f}%"
            if t.conversations
            else "0.00%",
            "interrupted_conversations": t.outcomes.get(Outcome.INTERRUPTED.value, 0),
            "failed_conversations": t.outcomes.get(Outcome.ERROR.value, 0),
            "outcomes": dict(sorted(t.outcomes.items())),
            "errors_by_kind": dict(sorted(t.errors.items())),
            "total_turns": t.turns,
            "failed_turns": t.failed_turns,
            "avg_iterations_per_conversation": round(t.iterations / t.conversations, 3)
            if t.conversations
            else 0.0,
            "avg_iterations_to_goal": round(t.iterations_to_goal / t.successful, 3) if t.successful else None,
            "agent_changes": t.agent_changes,
            "agent_transitions": dict(t.transitions.most_common()),
            "tokens": self.usage.tokens_summary(),
            "total_cost_usd": round(self.usage.cost_usd, 8),
            "tokens_per_conversation": round(self.usage.total_tokens / t.conversations, 1)
            if t.conversations
            else 0,
            "cost_per_conversation_usd": round(self.usage.cost_usd / t.conversations, 8)
            if t.conversations
            else 0,
            "llm": self.usage.llm_summary(),
        }
        latency = {
            "turn_ms": distribution(t.turn_ms),
            "ack_ms": distribution(t.ack_ms),
            "conversation_ms": distribution(t.conversation_ms),
        }
        personas = {
            name: {
                "conversations": p.conversations,
                "successful": p.successful,
                "success_rate": p.rate(),
                "avg_iterations": round(p.iterations / p.conversations, 3),
                "turn_ms": distribution(p.turn_ms),
                "conversation_ms": distribution(p.conversation_ms),
                "errors_by_kind": dict(sorted(p.errors.items())),
            }
            for name, p in sorted(self.personas.items())
        }
        return {
            "run": meta or {},
            "summary": summary,
            "latency": latency,
            "personas": personas,
            "findings": self._findings_summary(),
            "conversations": list(self.summaries),
        }

    def _findings_summary(self) -> dict[str, Any]:
        by_priority: Counter = Counter()
        for entry in self.findings.values():
            by_priority[entry["priority"]] += entry["count"]
        ranked = sorted(self.findings.items(), key=lambda kv: -kv[1]["count"])
        return {
            "total": sum(by_priority.values()),
            "by_priority": dict(by_priority),
            "by_hook": {name: {**e, "conversations": len(e["conversations"])} for name, e in ranked},
        }


def aggregate(records: Iterable[ConversationRecord], meta: dict[str, Any] | None = None) -> dict[str, Any]:
    aggregator = Aggregator()
    for record in records:
        aggregator.add(record)
    return aggregator.document(meta)
