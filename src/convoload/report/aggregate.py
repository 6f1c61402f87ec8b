"""The run aggregate: success, iterations, exact latency percentiles, errors, cost.

Percentiles (convoload.model.stats) are computed from every recorded value, per
request type and name (persona, or provider/model for LLM calls) as well as for the
whole run.

The aggregate is built from *entries*: the digest of one finished conversation
(its numbers, not its transcript), one simulated-user LLM call, one fallback.
A distributed master adds its workers' conversations from the journal lines
they ship (load.master_records) and applies their other entries (LLM calls,
fallbacks, errors: not part of a record): its aggregate is then exactly the one
a single process would have built from all conversations. For that, nothing
here depends on the order entries arrive in: conversation costs are
summed as integers of 10⁻⁸ USD (the precision records carry) and per-call LLM
costs as exact fractions.

Memory stays flat over long runs: per finished conversation the aggregator keeps counters and its
latencies (model.stats.Latencies: exact while few, then a histogram of constant size), never the
conversation's summary. Where a run has a
journal, the aggregate's list of conversations is read back from it, line by line, at the end.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import pairwise
from pathlib import Path
from typing import Any

from convoload.model.records import ConversationRecord, ErrorKind, Outcome, Usage
from convoload.model.stats import Latencies, distribution
from convoload.report.completion import completion
from convoload.store.journal import journal_lines

log = logging.getLogger(__name__)

# Request types in our reports: Locust's (MESSAGE, WEBHOOK, CONVERSATION, LLM) plus the acknowledgement.
REQUEST_TYPES = ("MESSAGE", "ACK", "WEBHOOK", "CONVERSATION", "LLM")
_COST_UNITS = 10**8  # records keep costs to 8 decimals
_COST_FIELDS = ("cost_usd", "saved_cost_usd")

# Who an LLM call was made for (events.LLMCalled.role): the simulated user (its calls fill the LLM
# tables; their cost is also in the conversations' usage), or the conversation judge (its cost counted
# apart, as judge_cost_usd, and nowhere else).
SIMULATOR_ROLE = "user"
JUDGE_ROLE = "judge"
LLM_ROLES = (SIMULATOR_ROLE, JUDGE_ROLE)

Entry = list[Any]  # [kind, payload]: JSON/msgpack-friendly, as it travels from a worker to the master


def journal_records(path: Path) -> Iterator[ConversationRecord]:
    """A journal's records in its order, one line in memory at a time (torn lines skipped)."""
    for record, _ in journal_lines(path):
        yield record


def journal_summaries(path: Path) -> Iterator[dict[str, Any]]:
    """Each conversation's summary from a journal, in its order, one line in memory at a time."""
    for record in journal_records(path):
        yield record.summary()


def cost_units(cost_usd: float) -> int:
    """A cost as an integer of 10⁻⁸ USD, rounded the way a record's summary rounds it."""
    return round(round(cost_usd, 8) * _COST_UNITS)


def digest(record: ConversationRecord) -> dict[str, Any]:
    """Everything the aggregate needs from one conversation, without its transcript."""
    turn_ms: list[float] = []
    ack_ms: list[float] = []
    webhook_ms: list[float] = []
    failed_turns = webhook_failures = 0
    for turn in record.turns:
        if turn.error is not None:
            failed_turns += 1
            webhook_failures += turn.error.kind == ErrorKind.WEBHOOK_TIMEOUT
        elif turn.latency_ms is not None:
            turn_ms.append(turn.latency_ms)
            if turn.ack_ms is not None:
                webhook_ms.append(max(0.0, turn.latency_ms - turn.ack_ms))
        if turn.ack_ms is not None:
            ack_ms.append(turn.ack_ms)
    interrupted = record.outcome == Outcome.INTERRUPTED
    return {
        "summary": record.summary(),
        "agents": record.agents,
        "turn_ms": turn_ms,
        "ack_ms": ack_ms,
        "webhook_ms": webhook_ms,
        "failed_turns": failed_turns,
        "webhook_failures": webhook_failures,
        "conversation_ms": None if interrupted else record.total_time_ms,
        "usage": record.usage.model_dump(),
        "findings": [
            {
                "hook": f.hook,
                "priority": f.priority,
                "persona": f.persona,
                "iteration": f.iteration,
                "message": f.message,
            }
            for f in record.findings
        ],
    }


@dataclass
class _Tally:
    """What one group of conversations (the run, or one persona) contributes to the aggregate."""

    conversations: int = 0
    successful: int = 0
    iterations: int = 0
    iterations_to_goal: int = 0
    turns: int = 0
    failed_turns: int = 0
    webhook_failures: int = 0
    # Conversations the simulated user broke (outcome simulator_error): outside the success rate.
    simulator_errors: int = 0
    simulator_faults: Counter = field(default_factory=Counter)
    agent_changes: int = 0
    transitions: Counter = field(default_factory=Counter)
    outcomes: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    # Exact while few (8 bytes a value), then a histogram of constant size: runs of millions of turns
    turn_ms: Latencies = field(default_factory=Latencies)
    ack_ms: Latencies = field(default_factory=Latencies)
    webhook_ms: Latencies = field(default_factory=Latencies)
    conversation_ms: Latencies = field(default_factory=Latencies)

    def add(self, d: dict[str, Any]) -> None:
        summary = d["summary"]
        self.conversations += 1
        self.iterations += summary["iterations"]
        if summary["goal_reached"]:
            self.successful += 1
            self.iterations_to_goal += summary["iterations"]
        self.outcomes[summary["outcome"] or "unknown"] += 1
        if summary["outcome"] == Outcome.SIMULATOR_ERROR.value:
            self.simulator_errors += 1
            self.simulator_faults[summary.get("simulator_fault") or "unknown"] += 1
        elif summary["error"]:
            self.errors[summary["error"]["kind"]] += 1
        for a, b in pairwise(d["agents"]):
            if a != b:
                self.agent_changes += 1
                self.transitions[f"{a} → {b}"] += 1
        self.turns += summary["iterations"]
        self.failed_turns += d["failed_turns"]
        self.webhook_failures += d["webhook_failures"]
        self.turn_ms.extend(d["turn_ms"])
        self.ack_ms.extend(d["ack_ms"])
        self.webhook_ms.extend(d["webhook_ms"])
        if d["conversation_ms"] is not None:
            self.conversation_ms.append(d["conversation_ms"])

    @property
    def judged(self) -> int:
        """The conversations that say something about the agent: all but the simulator's errors."""
        return self.conversations - self.simulator_errors

    def rate(self) -> float:
        return round(self.successful / self.judged, 4) if self.judged else 0.0

    def requests(self) -> dict[str, dict[str, Any]]:
        """This group's rows of the request table (all types but LLM)."""
        return {
            "MESSAGE": _row(self.turn_ms, self.failed_turns),
            "ACK": _row(self.ack_ms, 0),
            "WEBHOOK": _row(self.webhook_ms, self.webhook_failures),
            "CONVERSATION": _row(self.conversation_ms, self.judged - self.successful),
        }


def _row(values: Iterable[float], failures: int) -> dict[str, Any]:
    return {**distribution(values), "failures": failures}


class Aggregator:
    """Builds the aggregate as conversations finish, keeping only numbers, not whole records.

    With `journal` (the run's journal.jsonl, written before each conversation is added here), the
    aggregate's list of conversations is read from it when the document is made; without, each
    conversation's summary is kept in memory for it (an aggregate of records already in a list).
    With `record_entries`, every entry applied is also kept until `take_entries()` hands it
    over (a Locust worker sends them to its master, which `apply()`s them).
    """

    def __init__(self, *, journal: Path | None = None, record_entries: bool = False) -> None:
        self.run = _Tally()
        self.personas: dict[str, _Tally] = defaultdict(_Tally)
        self.journal = Path(journal) if journal is not None else None
        self.summaries: list[dict[str, Any]] | None = [] if journal is None else None
        self.findings: dict[str, dict[str, Any]] = {}
        self._usage: Counter[str] = Counter()  # token and call counts, and costs in 10⁻⁸ USD
        self.llm_by_provider: dict[str, Counter] = defaultdict(Counter)
        self._llm_cost: dict[str, Fraction] = defaultdict(Fraction)
        self._role_cost: dict[str, Fraction] = defaultdict(Fraction)  # by LLM_ROLES
        self._agent_cost = 0  # what agents reported their turns cost, in 10⁻⁸ USD
        self._llm_ms: dict[str, Latencies] = defaultdict(Latencies)
        self.llm_fallbacks: Counter[str] = Counter()
        self.llm_errors: Counter[str] = Counter()
        self._entries: list[Entry] | None = [] if record_entries else None

    # -- entries ------------------------------------------------------------------------------------
    def add(self, record: ConversationRecord) -> None:
        self.add_digest(digest(record))

    def add_digest(self, d: dict[str, Any]) -> None:
        self._record(["conversation", d])
        summary = d["summary"]
        self.run.add(d)
        self.personas[summary["persona"]].add(d)
        if self.summaries is not None:
            self.summaries.append(summary)
        for name, value in d["usage"].items():
            self._usage[name] += cost_units(value) if name in _COST_FIELDS else value
        self._agent_cost += cost_units(summary.get("agent_cost_usd", 0.0))
        hooks_here: set[str] = set()
        for finding in d["findings"]:
            entry = self.findings.setdefault(
                finding["hook"],
                {"priority": finding["priority"], "count": 0, "conversations": 0, "examples": []},
            )
            entry["count"] += 1
            # Conversations counted, not their ids kept: each conversation is added once.
            if finding["hook"] not in hooks_here:
                hooks_here.add(finding["hook"])
                entry["conversations"] += 1
            if len(entry["examples"]) < 3:
                entry["examples"].append(
                    {k: finding[k] for k in ("persona", "iteration", "message")},
                )

    def add_llm_call(
        self,
        label: str,
        *,
        latency_ms: float,
        from_cache: bool = False,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        cached_tokens: int = 0,
        cost_usd: float = 0.0,
        attempts: int = 1,
        role: str = SIMULATOR_ROLE,
    ) -> None:
        """One LLM call (`label` = provider/model) made for `role` (see LLM_ROLES)."""
        if role not in LLM_ROLES:
            raise ValueError(f"unknown LLM call role {role!r} (one of {', '.join(LLM_ROLES)})")
        call = {
            "label": label,
            "latency_ms": latency_ms,
            "from_cache": from_cache,
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "cached_tokens": cached_tokens,
            "cost_usd": cost_usd,
            "attempts": attempts,
        }
        if role != SIMULATOR_ROLE:  # entries of simulator calls keep the shape earlier workers send
            call["role"] = role
        self._record(["llm_call", call])
        if role != SIMULATOR_ROLE:
            if not from_cache:
                self._role_cost[role] += Fraction(cost_usd)
            return
        tally = self.llm_by_provider[label]
        if from_cache:
            tally["replayed"] += 1
            return
        tally.update(
            {
                "calls": 1,
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "cached_tokens": cached_tokens,
                "retries": attempts - 1,
            }
        )
        self._llm_cost[label] += Fraction(cost_usd)
        self._llm_ms[label].append(latency_ms)

    def add_llm_fallback(self, route: str) -> None:
        self._record(["llm_fallback", route])
        self.llm_fallbacks[route] += 1

    def add_llm_error(self, provider: str, kind: str) -> None:
        """A provider failed a call (the chain then fell back, or the user's attempt failed)."""
        self._record(["llm_error", [provider, kind]])
        self.llm_errors[f"{provider}: {kind}"] += 1

    def _record(self, entry: Entry) -> None:
        if self._entries is not None:
            self._entries.append(entry)

    def take_entries(self) -> list[Entry]:
        """The entries applied since the last call (empty unless built with `record_entries`)."""
        if not self._entries:
            return []
        taken, self._entries = self._entries, []
        return taken

    def apply(self, entries: Iterable[Entry]) -> None:
        """Apply entries taken from another aggregator (a worker's)."""
        for kind, payload in entries:
            if kind == "conversation":
                self.add_digest(payload)
            elif kind == "llm_call":
                self.add_llm_call(**payload)
            elif kind == "llm_fallback":
                self.add_llm_fallback(payload)
            elif kind == "llm_error":
                self.add_llm_error(*payload)
            else:
                raise ValueError(f"unknown aggregate entry kind {kind!r}")

    # -- the document -------------------------------------------------------------------------------
    def usage(self) -> Usage:
        counts = {k: v for k, v in self._usage.items() if k not in _COST_FIELDS}
        costs = {k: self._usage[k] / _COST_UNITS for k in _COST_FIELDS}
        return Usage(**counts, **costs)

    def document(self, meta: dict[str, Any] | None = None, *, conversations: bool = True) -> dict[str, Any]:
        """The aggregate; `conversations` False leaves its list of conversations empty (a report page
        draws none of it)."""
        t = self.run
        usage = self.usage()
        summary = {
            "total_conversations": t.conversations,
            "successful_conversations": t.successful,
            "success_rate": t.rate(),
            "success_rate_pct": f"{100 * t.successful / t.judged:.2f}%" if t.judged else "0.00%",
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
            "tokens": usage.tokens_summary(),
            "total_cost_usd": round(usage.cost_usd, 8),
            "tokens_per_conversation": round(usage.total_tokens / t.conversations, 1)
            if t.conversations
            else 0,
            "cost_per_conversation_usd": round(usage.cost_usd / t.conversations, 8) if t.conversations else 0,
            **self._cost_per_success(usage),
            "simulator_errors": t.simulator_errors,
            "simulator_faults": dict(sorted(t.simulator_faults.items())),
            "llm": usage.llm_summary(),
        }
        if self.llm_by_provider or self.llm_fallbacks or self.llm_errors:
            summary["llm"]["by_provider"] = self._by_provider()
            summary["llm"]["fallbacks"] = dict(self.llm_fallbacks)
            summary["llm"]["errors"] = dict(sorted(self.llm_errors.items()))
        summary["completion"] = completion(meta or {}, summary)  # planned vs finished, how the run ended
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
            "requests": self._requests(),
            "personas": personas,
            "findings": self._findings_summary(),
            "conversations": list(self.iter_conversations()) if conversations else [],
        }

    def iter_conversations(self) -> Iterator[dict[str, Any]]:
        """Every conversation's summary, in the order they were added (read line by line from the
        journal when there is one)."""
        if self.summaries is not None:
            yield from self.summaries
        elif self.journal is not None and self.journal.is_file():
            yield from journal_summaries(self.journal)

    def _cost_per_success(self, usage: Usage) -> dict[str, Any]:
        """Simulator + judge + agent cost, and that divided by the goals reached (None: none was)."""
        simulator = usage.cost_usd
        judge = float(self._role_cost.get(JUDGE_ROLE, Fraction()))
        agent = self._agent_cost / _COST_UNITS
        total = simulator + judge + agent
        successes = self.run.successful
        return {
            "simulator_cost_usd": round(simulator, 8),
            "judge_cost_usd": round(judge, 8),
            "agent_cost_usd": round(agent, 8),
            "cost_per_success_usd": round(total / successes, 8) if successes else None,
        }

    def _by_provider(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for label, tally in sorted(self.llm_by_provider.items()):
            row: dict[str, Any] = dict(tally)
            if label in self._llm_cost:
                row["cost_usd"] = round(float(self._llm_cost[label]), 8)
            out[label] = row
        return out

    def _requests(self) -> dict[str, dict[str, Any]]:
        """p50/p90/p95/p99/max per request type, overall ("all") and per name, from every value."""
        per_name = {name: p.requests() for name, p in sorted(self.personas.items())}
        overall = self.run.requests()
        table: dict[str, dict[str, Any]] = {
            kind: {"all": overall[kind], "by_name": {n: rows[kind] for n, rows in per_name.items()}}
            for kind in REQUEST_TYPES
            if kind != "LLM"
        }
        every_call = Latencies().merged(self._llm_ms.values())
        table["LLM"] = {
            "all": _row(every_call, 0),
            "by_name": {label: _row(values, 0) for label, values in sorted(self._llm_ms.items())},
        }
        return table

    def _findings_summary(self) -> dict[str, Any]:
        by_priority: Counter = Counter()
        for entry in self.findings.values():
            by_priority[entry["priority"]] += entry["count"]
        ranked = sorted(self.findings.items(), key=lambda kv: -kv[1]["count"])
        return {
            "total": sum(by_priority.values()),
            "by_priority": dict(by_priority),
            "by_hook": {name: dict(e) for name, e in ranked},
        }


def aggregate(records: Iterable[ConversationRecord], meta: dict[str, Any] | None = None) -> dict[str, Any]:
    aggregator = Aggregator()
    for record in records:
        aggregator.add(record)
    return aggregator.document(meta)
