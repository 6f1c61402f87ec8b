"""Build the view model for the HTML report and render it with the bundled Jinja2 template."""

from __future__ import annotations

import json
import math
import sys
from array import array
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from convoload.errors import ConfigError
from convoload.model import ConversationRecord, Outcome, percentile
from convoload.model.report import RequestTable, RunMeta, RunReport, RunSummary, TargetMeta
from convoload.report.aggregate import Aggregator, journal_records
from convoload.report.grading import assess_report
from convoload.report.html import charts
from convoload.store.journal import AGGREGATE_NAME, JOURNAL_NAME, META_NAME, write_text_atomic

REPORT_NAME = "report.html"
TEMPLATE = "report.html.j2"
# Bucket widths (seconds) for findings over time: the smallest that keeps the chart readable.
BUCKET_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400)
MAX_BUCKETS = 60
# Successful transcripts inlined in the page (every failed and interrupted one is): keeps the page of a
# run of any length small enough for a browser to open.
SAMPLE_SUCCESSES = 200


@cache
def _environment() -> jinja2.Environment:
    # PackageLoader reads the template from the installed package (wheel or editable alike).
    return jinja2.Environment(
        loader=jinja2.PackageLoader("convoload.report.html", "templates"),
        autoescape=True,  # every run-supplied string in the template is escaped
        undefined=jinja2.StrictUndefined,  # a typo in the template fails loudly, not silently blank
        trim_blocks=True,
        lstrip_blocks=True,
    )


@dataclass(slots=True)
class _RunDigest:
    """What the page draws from every conversation, gathered one record at a time (a journal of any
    length is read line by line: only the transcripts the page shows are kept whole)."""

    turn_ms: array = field(default_factory=lambda: array("d"))
    by_agent: defaultdict[str, array] = field(default_factory=lambda: defaultdict(lambda: array("d")))
    success: defaultdict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0, 0]))
    findings: list[tuple[datetime, str]] = field(default_factory=list)
    # Per conversation, by its position in the records: what start order and the cost chart need.
    starts: list[tuple[str, int, int]] = field(default_factory=list)
    personas: list[str] = field(default_factory=list)
    costs: array = field(default_factory=lambda: array("d"))
    succeeded: bytearray = field(default_factory=bytearray)

    def add(self, record: ConversationRecord) -> None:
        position = len(self.starts)
        self.starts.append((record.started_at, record.user_id, position))
        self.personas.append(sys.intern(record.persona))
        self.costs.append(record.usage.cost_usd)
        self.succeeded.append(record.goal_reached)
        for turn in record.turns:
            if turn.error is None and turn.latency_ms is not None:
                self.turn_ms.append(turn.latency_ms)
                self.by_agent[turn.agent or "(no agent name)"].append(turn.latency_ms)
        tally = self.success[record.persona]
        if record.outcome == Outcome.GOAL_REACHED:
            tally[0] += 1
        elif record.outcome == Outcome.INTERRUPTED:
            tally[2] += 1
        elif record.outcome == Outcome.SIMULATOR_ERROR:  # the simulated user's fault, not the agent's
            tally[3] += 1
        else:  # error, gave up, turn limit: the customer did not get what they came for
            tally[1] += 1
        self.findings.extend(
            (moment, sys.intern(f.priority))
            for f in record.findings
            if (moment := _parse_time(f.at)) is not None
        )

    def start_order(self) -> list[int]:
        """Positions of the conversations in start order."""
        return [position for *_, position in sorted(self.starts)]

    def shown(self, ordered: list[int]) -> list[int]:
        """Positions, in start order, of the transcripts the page shows: every conversation that did
        not reach its goal, and SAMPLE_SUCCESSES successful ones evenly spaced over the run (all when
        fewer)."""
        successes = [p for p in ordered if self.succeeded[p]]
        if len(successes) <= SAMPLE_SUCCESSES:
            return ordered
        picked = {successes[k * len(successes) // SAMPLE_SUCCESSES] for k in range(SAMPLE_SUCCESSES)}
        return [p for p in ordered if not self.succeeded[p] or p in picked]


def render_html(report: RunReport | Mapping[str, Any], records: list[ConversationRecord]) -> str:
    """The self-contained report page for a run's report (or aggregate document) and its records."""
    digest = _RunDigest()
    for record in records:
        digest.add(record)
    ordered = digest.start_order()
    return _render(RunReport.of(report), digest, ordered, [records[p] for p in digest.shown(ordered)])


def _render(
    report: RunReport, digest: _RunDigest, ordered: list[int], shown: list[ConversationRecord]
) -> str:
    summary = report.summary
    context = {
        "run": _run_view(report.run),
        "summary": summary,
        "assessment": report.assessment or assess_report(report),
        "tokens": summary.tokens.total,
        "cost": charts.fmt_usd(summary.total_cost_usd or 0.0),
        "cost_per_success": _cost_per_success_view(summary),
        "turn_p95": charts.fmt_ms(report.latency.turn_ms.p95),
        "charts": _charts(report, digest, ordered),
        "findings": report.findings,
        "faults": _faults_view(report),
        "requests": _requests_view(report.requests),
        "conversations": [_conversation_view(r) for r in shown],
        "conversation_total": len(ordered),
        "successes_total": sum(digest.succeeded),
        "successes_shown": sum(r.goal_reached for r in shown),
    }
    return _environment().get_template(TEMPLATE).render(**context)


def write_html_report(run_dir: Path, aggregate: Mapping[str, Any] | None = None) -> Path:
    """Write `report.html` into a run folder from its journal and aggregate (`aggregate`, when the
    caller has it in memory, rather than aggregate.json read back: its list of conversations is not
    needed); returns its path.

    The journal is read twice, a line at a time: once for the charts (and the aggregate when there is
    none), once for the transcripts the page shows."""
    run_dir = Path(run_dir)
    journal = run_dir / JOURNAL_NAME
    if not journal.is_file():
        raise ConfigError(str(run_dir), "", f"no {JOURNAL_NAME} here: not a convoload run folder")
    document = dict(aggregate) if aggregate is not None else _load_json(run_dir / AGGREGATE_NAME)
    # No (or a corrupt) aggregate, e.g. after a crash: the journal has everything needed.
    aggregator = Aggregator(journal=journal) if document is None else None
    digest = _RunDigest()
    for record in journal_records(journal):
        digest.add(record)
        if aggregator is not None:
            aggregator.add(record)
    if aggregator is not None:
        document = aggregator.document(_load_json(run_dir / META_NAME) or {}, conversations=False)
    else:
        document.pop("conversations", None)  # the page lists transcripts, from the journal
    ordered = digest.start_order()
    positions = digest.shown(ordered)
    wanted = set(positions)
    kept = {p: r for p, r in enumerate(journal_records(journal)) if p in wanted}
    shown = [kept[p] for p in positions if p in kept]  # positions from the first reading
    out = run_dir / REPORT_NAME
    write_text_atomic(
        out, _render(RunReport.from_document(document or {}, run_dir=run_dir), digest, ordered, shown)
    )
    return out


def _load_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _exact_ms(value: float | None) -> str:
    """Enough digits to tell sub-millisecond overheads apart, without pretending more."""
    if value is None:
        return "–"
    if value < 10:
        return f"{value:.2f} ms"
    if value < 1000:
        return f"{value:.1f} ms"
    return f"{value / 1000:.3f} s"


def _requests_view(requests: Mapping[str, RequestTable]) -> list[dict[str, Any]]:
    """One row per request type overall ("all"), then per persona (or provider/model for LLM)."""
    rows = []
    for kind, table in requests.items():
        for name, dist in [("all", table.all), *sorted(table.by_name.items())]:
            if not dist.count:
                continue
            rows.append(
                {
                    "kind": kind,
                    "name": name,
                    "count": dist.count,
                    "failures": dist.failures,
                    "p50": _exact_ms(dist.p50),
                    "p90": _exact_ms(dist.p90),
                    "p95": _exact_ms(dist.p95),
                    "p99": _exact_ms(dist.p99),
                    "max": _exact_ms(dist.max),
                }
            )
    return rows


# Receiver counters that are not faults (callbacks it accepted and matched).
_ACCEPTED_CALLBACKS = {"accepted", "received", "matched", "delivered"}


def _faults_view(report: RunReport) -> dict[str, list[tuple[str, int]]]:
    """Every fault category the run counted: failed turns, rejected callbacks, LLM fallbacks and retries."""
    summary = report.summary
    stats = report.run.target_stats or {}
    counted = {k.removeprefix("callbacks_"): int(v) for k, v in stats.items() if k.startswith("callbacks_")}
    callbacks = [(k, n) for k, n in sorted(counted.items()) if k not in _ACCEPTED_CALLBACKS and n]
    llm = summary.llm
    retries = [
        (provider, tally.retries) for provider, tally in sorted(llm.by_provider.items()) if tally.retries
    ]
    return {
        "errors": sorted(summary.errors_by_kind.items(), key=lambda kv: -kv[1]),
        "callbacks": callbacks,
        "llm_fallbacks": sorted(llm.fallbacks.items(), key=lambda kv: -kv[1]),
        "llm_errors": sorted(llm.errors.items(), key=lambda kv: -kv[1]),
        "llm_retries": retries,
    }


def _run_view(run: RunMeta) -> dict[str, Any]:
    target = run.target
    if isinstance(target, TargetMeta):
        target = " ".join(str(v) for v in (target.type, target.url, target.name) if v)
    return {
        "id": run.run_id or "(unknown run)",
        "started_at": run.started_at or "–",
        "finished_at": run.finished_at or "–",
        "target": target or "–",
        "seed": "–" if run.seed is None else run.seed,
        "goal": run.goal,
    }


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _charts(report: RunReport, digest: _RunDigest, ordered: list[int]) -> dict[str, Any]:
    turn_dist = report.latency.turn_ms
    transitions = report.summary.agent_transitions
    return {
        "turn_latency": charts.histogram(
            "turn-latency",
            "Turn latency distribution (send → complete reply)",
            digest.turn_ms,
            {"p50": turn_dist.p50, "p95": turn_dist.p95},
        ),
        "agent_latency": charts.latency_bars(
            "agent-latency", "Turn latency per agent (p50 / p95)", _latency_rows(digest.by_agent)
        ),
        "persona_latency": charts.latency_bars(
            "persona-latency", "Turn latency per persona (p50 / p95)", _persona_latency_rows(report)
        ),
        "persona_success": charts.success_bars(
            "persona-success",
            "Conversation outcomes per persona",
            [charts.SuccessRow(name, *counts) for name, counts in sorted(digest.success.items())],
        ),
        "agent_transitions": charts.count_bars(
            "agent-transitions", "Agent hand-offs (from → to)", list(transitions.items())
        ),
        "conversation_cost": charts.cost_dots(
            "conversation-cost",
            "Simulated-user LLM cost per conversation",
            [(f"{digest.personas[p]} #{digest.starts[p][1]}", digest.costs[p]) for p in ordered],
        ),
        "findings_over_time": _findings_chart(digest.findings),
    }


def _latency_rows(groups: Mapping[str, array]) -> list[charts.LatencyRow]:
    rows = []
    for label, values in sorted(groups.items()):
        data = sorted(values)
        rows.append(charts.LatencyRow(label, len(data), percentile(data, 50), percentile(data, 95)))
    return rows


def _persona_latency_rows(report: RunReport) -> list[charts.LatencyRow]:
    rows = []
    for name, persona in sorted(report.personas.items()):
        dist = persona.turn_ms
        if dist.count and dist.p50 is not None and dist.p95 is not None:
            rows.append(charts.LatencyRow(name, dist.count, dist.p50, dist.p95))
    return rows


def _bucket_label(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"+{seconds // 3600}h{seconds % 3600 // 60:02d}"
    return f"+{seconds // 60}:{seconds % 60:02d}"


def _step_label(step: int) -> str:
    if step % 3600 == 0:
        return f"{step // 3600} h"
    if step % 60 == 0:
        return f"{step // 60} min"
    return f"{step} s"


def _findings_chart(stamped: list[tuple[datetime, str]]) -> Any:
    title = "Hook findings over time, by priority"
    if not stamped:
        return charts.stacked_columns("findings-over-time", title, [], [], "")
    start = min(t for t, _ in stamped)
    span = max((t - start).total_seconds() for t, _ in stamped)
    # Per minute (or coarser) for runs of 5 minutes and more; shorter runs (a demo lasts seconds) get
    # finer buckets so the chart still shows a shape.
    step = next(
        (s for s in BUCKET_STEPS if span / s < MAX_BUCKETS and (s >= 60 or span < 300)), BUCKET_STEPS[-1]
    )
    count = math.floor(span / step) + 1
    buckets: list[dict[str, int]] = [defaultdict(int) for _ in range(count)]
    for moment, priority in stamped:
        buckets[min(int((moment - start).total_seconds() // step), count - 1)][priority] += 1
    labels = [_bucket_label(i * step) for i in range(count)]
    return charts.stacked_columns(
        "findings-over-time",
        f"{title} (per {_step_label(step)})",
        buckets,
        labels,
        f"per {_step_label(step)}",
    )


def _cost_per_success_view(summary: RunSummary) -> dict[str, str] | None:
    """US$ per successful conversation and its parts, formatted; None when no goal was reached."""
    if summary.cost_per_success_usd is None:
        return None
    return {
        "total": charts.fmt_usd(summary.cost_per_success_usd),
        "simulator": charts.fmt_usd(summary.simulator_cost_usd),
        "judge": charts.fmt_usd(summary.judge_cost_usd),
        "agent": charts.fmt_usd(summary.agent_cost_usd),
    }


def _conversation_view(record: ConversationRecord) -> dict[str, Any]:
    outcome = record.outcome.value if record.outcome else "unknown"
    return {
        "session_id": record.session_id,
        "user_id": record.user_id,
        "persona": record.persona,
        "outcome": outcome,
        "status": "ok"
        if record.goal_reached
        else (outcome if outcome in ("interrupted", "simulator_error") else "failed"),
        "stop_reason": record.stop_reason,
        "error": record.error,
        "turns": record.iterations,
        "time": charts.fmt_ms(record.total_time_ms),
        "started_at": record.started_at,
        "cost": charts.fmt_usd(record.usage.cost_usd) if record.usage.cost_usd else None,
        "messages": [
            {**m, "latency": charts.fmt_ms(m["latency_ms"]) if m.get("latency_ms") is not None else None}
            for m in record.messages()
        ],
        "findings": record.findings,
    }
