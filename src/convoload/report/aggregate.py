"""The run aggregate: success, iterations, exact latency percentiles, errors, cost.

Percentiles are computed from every recorded value (no bucketing), with linear
interpolation between closest ranks.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from itertools import pairwise
from typing import Any

from convoload.conversation.records import ConversationRecord, Outcome

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


def aggregate(records: Sequence[ConversationRecord], meta: dict[str, Any] | None = None) -> dict[str, Any]:
    total = len(records)
    successful = [r for r in records if r.goal_reached]
    outcomes = Counter(r.outcome.value if r.outcome else "unknown" for r in records)
    errors = Counter(r.error.kind.value for r in records if r.error)
    turns = [t for r in records for t in r.turns]
    agent_changes = sum(_agent_changes(r) for r in records)
    summary = {
        "total_conversations": total,
        "successful_conversations": len(successful),
        "success_rate": round(len(successful) / total, 4) if total else 0.0,
        "success_rate_pct": f"{100 * len(successful) / total:.2f}%" if total else "0.00%",
        "interrupted_conversations": outcomes.get(Outcome.INTERRUPTED.value, 0),
        "failed_conversations": outcomes.get(Outcome.ERROR.value, 0),
        "outcomes": dict(sorted(outcomes.items())),
        "errors_by_kind": dict(sorted(errors.items())),
        "total_turns": len(turns),
        "failed_turns": sum(1 for t in turns if t.error),
        "avg_iterations_per_conversation": round(sum(r.iterations for r in records) / total, 3)
        if total
        else 0.0,
        "avg_iterations_to_goal": (
            round(sum(r.iterations for r in successful) / len(successful), 3) if successful else None
        ),
        "agent_changes": agent_changes,
        "tokens": {
            "prompt": sum(r.usage.prompt_tokens for r in records),
            "completion": sum(r.usage.completion_tokens for r in records),
            "total": sum(r.usage.total_tokens for r in records),
        },
        "total_cost_usd": round(sum(r.usage.cost_usd for r in records), 8),
    }
    latency = {
        "turn_ms": distribution(t.latency_ms for t in turns if t.error is None),
        "ack_ms": distribution(t.ack_ms for t in turns if t.ack_ms is not None),
        "conversation_ms": distribution(r.total_time_ms for r in records if r.outcome != Outcome.INTERRUPTED),
    }
    by_persona: dict[str, list[ConversationRecord]] = defaultdict(list)
    for r in records:
        by_persona[r.persona].append(r)
    personas = {
        name: {
            "conversations": len(rs),
            "successful": sum(1 for r in rs if r.goal_reached),
            "success_rate": round(sum(1 for r in rs if r.goal_reached) / len(rs), 4),
            "avg_iterations": round(sum(r.iterations for r in rs) / len(rs), 3),
            "turn_ms": distribution(t.latency_ms for r in rs for t in r.turns if t.error is None),
            "conversation_ms": distribution(r.total_time_ms for r in rs if r.outcome != Outcome.INTERRUPTED),
            "errors_by_kind": dict(Counter(r.error.kind.value for r in rs if r.error)),
        }
        for name, rs in sorted(by_persona.items())
    }
    return {
        "run": meta or {},
        "summary": summary,
        "latency": latency,
        "personas": personas,
        "conversations": [r.summary() for r in records],
    }


def _agent_changes(record: ConversationRecord) -> int:
    agents = record.agents
    return sum(1 for a, b in pairwise(agents) if a != b)
