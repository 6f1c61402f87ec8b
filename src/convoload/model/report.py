"""RunReport: a run's aggregate (`aggregate.json`) as typed models.

The file stays the contract: `RunReport.from_document(doc).to_document() == doc` for every document
convoload writes, down to the order of the keys (the JSON text is the same). Unknown keys (written by a
newer convoload, or added by a user's tooling) are kept, so reading and writing a report never loses
anything. Modules that read a report read these attributes; the writers build the document.

A run's list of conversations can outgrow memory (a soak of hours), so a report a run returns leaves
`conversations` empty and `iter_conversations()` reads them from the run's journal, one at a time;
a report read from aggregate.json holds them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import PrivateAttr

from convoload.model.document import Document, Number, PlainDocument
from convoload.model.judgement import JudgementSummary


class Distribution(Document):
    """Percentiles of a set of values (milliseconds); only `count` when there were none. Exact, or
    (a long run's) within `relative_error` of exact (model.stats.Latencies)."""

    count: int = 0
    min: Number | None = None
    mean: Number | None = None
    p50: Number | None = None
    p90: Number | None = None
    p95: Number | None = None
    p99: Number | None = None
    max: Number | None = None
    relative_error: Number | None = None


class RequestRow(Distribution):
    failures: int = 0


class RequestTable(Document):
    all: RequestRow
    by_name: dict[str, RequestRow] = {}


class TargetMeta(Document):
    type: str | None = None
    url: str | None = None
    name: str | None = None


class PlanMeta(Document):
    """What the run set out to do (load.plan.RunPlan); None: not bounded."""

    conversations: int | None = None
    users: int | None = None
    duration_s: Number | None = None
    profile: str | None = None


class WorkerMeta(Document):
    """One Locust worker of a distributed run, as its master saw it."""

    worker_index: int
    host: str | None = None
    pid: int | None = None
    run_id: str | None = None
    records: str | None = None  # the worker's run folder, on its machine
    receiver_url: str | None = None
    index_range: list[int] | None = None
    conversations: int = 0
    complete: bool | None = None
    journal_bytes: int | None = None  # how far into its journal the master has its lines
    shipped_bytes: int | None = None  # what they took, compressed
    lost: bool | None = None  # Locust stopped hearing from it mid-run (e.g. kill -9)
    lost_with_worker: int | None = None  # its conversations in flight when it was lost
    error: str | None = None


class DistributedMeta(Document):
    workers: list[WorkerMeta] = []
    records: str | None = None
    forwarder_url: str | None = None


class RunMeta(Document):
    """What run.json says about the run: who, against what, how it ended."""

    run_id: str | None = None
    started_at: str | None = None
    seed: int | None = None
    config: str | None = None
    target: TargetMeta | str | None = None  # a string in run.json files of early versions
    personas: list[str] = []
    user: str | None = None
    llm: list[str] = []
    replay: bool = False
    goal: str | None = None
    max_iterations: int | None = None
    cluster: dict[str, Any] | None = None  # a distributed worker's place in the run (load.placement)
    plan: PlanMeta | None = None
    status: str | None = None  # running (until the end: a run.json still saying so was killed), finished, ...
    finished_at: str | None = None
    target_stats: dict[str, Any] | None = None  # the target's counters (e.g. callbacks_forged)
    stopped_by: str | None = None
    distributed: DistributedMeta | None = None  # a distributed run's master: its workers
    forwarder_stats: dict[str, Any] | None = None
    rebuilt_from_journal: bool | None = None


class Completion(Document):
    """Did the run do what it planned (see report.completion)."""

    complete: bool = True
    planned_conversations: int | None = None
    finished_conversations: int = 0
    stopped_by: str | None = None
    lost_with_worker: int | None = None  # conversations in flight on workers the run lost
    planned_users: int | None = None
    planned_duration_s: Number | None = None
    planned_profile: str | None = None


class TokenCounts(PlainDocument):
    prompt: int = 0
    completion: int = 0
    cached: int = 0  # part of prompt served from the provider's prompt cache
    reasoning: int = 0  # part of completion spent thinking
    total: int = 0


class ProviderCalls(Document):
    """One provider/model's simulated-user calls in a run."""

    replayed: int = 0
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    retries: int = 0
    cost_usd: Number | None = None


class LLMUsage(PlainDocument):
    """The simulated users' LLM calls (a run's also say per provider, fallbacks and errors)."""

    calls: int = 0
    replayed_calls: int = 0
    replayed_pct: Number = 0.0
    saved_tokens: int = 0
    saved_cost_usd: Number = 0.0
    by_provider: dict[str, ProviderCalls] = {}
    fallbacks: dict[str, int] = {}  # "route" -> times
    errors: dict[str, int] = {}  # "provider: kind" -> times


class RunSummary(Document):
    total_conversations: int = 0
    successful_conversations: int = 0
    success_rate: Number = 0.0
    success_rate_pct: str = "0.00%"
    interrupted_conversations: int = 0
    failed_conversations: int = 0
    outcomes: dict[str, int] = {}
    errors_by_kind: dict[str, int] = {}
    total_turns: int = 0
    failed_turns: int = 0
    avg_iterations_per_conversation: Number = 0.0
    avg_iterations_to_goal: Number | None = None
    agent_changes: int = 0
    agent_transitions: dict[str, int] = {}
    tokens: TokenCounts = TokenCounts()
    total_cost_usd: Number = 0.0
    tokens_per_conversation: Number = 0.0
    cost_per_conversation_usd: Number = 0.0
    # Cost per successful conversation: simulator + judge + agent-reported cost over the goals reached
    # (None: no goal reached). The judge's is zero unless judge LLM calls were recorded.
    simulator_cost_usd: Number = 0.0
    judge_cost_usd: Number = 0.0
    agent_cost_usd: Number = 0.0
    cost_per_success_usd: Number | None = None
    # Conversations the simulated user broke (outcome simulator_error), by fault: never the agent's,
    # outside its success rate and grade.
    simulator_errors: int = 0
    simulator_faults: dict[str, int] = {}
    llm: LLMUsage = LLMUsage()
    # A distributed run that lost workers (load.cluster): their conversations in flight, never counted
    # as finished or successful.
    lost_with_worker: int | None = None
    completion: Completion | None = None


class Latency(Document):
    turn_ms: Distribution = Distribution()
    ack_ms: Distribution = Distribution()
    conversation_ms: Distribution = Distribution()


class PersonaSummary(Document):
    conversations: int = 0
    successful: int = 0
    success_rate: Number = 0.0
    avg_iterations: Number = 0.0
    turn_ms: Distribution = Distribution()
    conversation_ms: Distribution = Distribution()
    errors_by_kind: dict[str, int] = {}


class FindingExample(Document):
    persona: str | None = None
    iteration: int | None = None
    message: str | None = None


class HookFindings(Document):
    priority: str | None = None  # critical, business or quality
    count: int = 0
    conversations: int = 0
    examples: list[FindingExample] = []


class FindingsSummary(Document):
    total: int = 0
    by_priority: dict[str, int] = {}
    by_hook: dict[str, HookFindings] = {}


class ErrorSummary(PlainDocument):
    """Why a conversation (or a turn) failed: model.records.TurnError as JSON."""

    kind: str
    message: str = ""
    status_code: int | None = None


class ConversationSummary(PlainDocument):
    """One finished conversation, without its transcript (that is in the journal)."""

    run_id: str | None = None
    session_id: str
    user_id: int | str | None = None
    persona: str
    outcome: str | None = None
    stop_reason: str | None = None
    error: ErrorSummary | None = None
    iterations: int = 0
    goal_reached: bool = False
    found_link: bool = False  # = goal_reached, under the name our users' dashboards read
    started_at: str | None = None
    finished_at: str | None = None
    total_time_ms: Number = 0.0
    tokens: TokenCounts = TokenCounts()
    total_cost_usd: Number = 0.0
    llm: LLMUsage = LLMUsage()
    simulator_fault: str | None = None  # with outcome simulator_error: which (model.SimulatorFault)
    agent_cost_usd: Number = 0.0  # what the agent reported its turns cost (only when it did)


class Assessment(Document):
    """Grade (A+ to D), health and what to do next."""

    grade: str
    health: str
    success_rate: Number = 0.0
    p95_turn_s: Number = 0.0
    error_rate: Number = 0.0
    recommendations: list[str] = []
    complete: bool | None = None  # False: the run did not do what it planned (grade capped)


class RunReport(Document):
    """A whole run's results, as `aggregate.json` holds them."""

    run: RunMeta = RunMeta()
    summary: RunSummary = RunSummary()
    latency: Latency = Latency()
    requests: dict[str, RequestTable] = {}
    personas: dict[str, PersonaSummary] = {}
    findings: FindingsSummary = FindingsSummary()
    conversations: list[ConversationSummary] = []
    assessment: Assessment | None = None
    judgement: JudgementSummary | None = None  # judge.enabled: the judge's verdict on the conversations

    _run_dir: Path | None = PrivateAttr(default=None)
    _conversations: Callable[[], Iterable[Mapping[str, Any]]] | None = PrivateAttr(default=None)

    @classmethod
    def from_document(
        cls,
        document: Mapping[str, Any],
        *,
        run_dir: Path | None = None,
        conversations: Callable[[], Iterable[Mapping[str, Any]]] | None = None,
    ) -> RunReport:
        """`conversations`: where `iter_conversations()` reads them (a run's journal) when the
        document leaves its list empty."""
        report = cls.model_validate(document)
        report._run_dir = run_dir
        report._conversations = conversations
        return report

    def iter_conversations(self) -> Iterator[ConversationSummary]:
        """Every conversation's summary, in the run's order: those the report holds, or those of the
        run's journal, read one at a time."""
        if self.conversations or self._conversations is None:
            yield from self.conversations
            return
        for summary in self._conversations():
            yield ConversationSummary.model_validate(summary)

    @classmethod
    def of(cls, report: RunReport | Mapping[str, Any]) -> RunReport:
        """A report as it is, or read from its document: for functions that take either."""
        return report if isinstance(report, RunReport) else cls.from_document(report)

    @classmethod
    def read(cls, path: str | Path) -> RunReport:
        """A run folder (its aggregate.json) or the file itself."""
        path = Path(path)
        if path.is_dir():
            path = path / "aggregate.json"
        return cls.from_document(json.loads(path.read_text(encoding="utf-8")), run_dir=path.parent)

    # Convenience views a script reaches for first.
    @property
    def run_dir(self) -> Path | None:
        """The run's folder (journal, conversations/, report.html), when the report came from one."""
        return self._run_dir

    @property
    def run_id(self) -> str | None:
        return self.run.run_id

    @property
    def success_rate(self) -> float:
        return self.summary.success_rate

    @property
    def grade(self) -> str | None:
        return self.assessment.grade if self.assessment else None

    @property
    def complete(self) -> bool:
        return self.summary.completion.complete if self.summary.completion else True


__all__ = [
    "Assessment",
    "Completion",
    "ConversationSummary",
    "DistributedMeta",
    "Distribution",
    "ErrorSummary",
    "FindingExample",
    "FindingsSummary",
    "HookFindings",
    "LLMUsage",
    "Latency",
    "Number",
    "PersonaSummary",
    "PlanMeta",
    "ProviderCalls",
    "RequestRow",
    "RequestTable",
    "RunMeta",
    "RunReport",
    "RunSummary",
    "TargetMeta",
    "TokenCounts",
    "WorkerMeta",
]
