"""Build the view model for the HTML report and render it with the bundled Jinja2 template."""

from __future__ import annotations

import json
import math
import sys
from array import array
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from convoload.errors import ConfigError
from convoload.model import ConversationRecord, Outcome, percentile
from convoload.model.judgement import Judgement, JudgementSummary
from convoload.model.report import RequestTable, RunMeta, RunReport, RunSummary, TargetMeta
from convoload.report.aggregate import Aggregator, journal_records
from convoload.report.grading import assess_report
from convoload.report.html import charts
from convoload.store.journal import AGGREGATE_NAME, JOURNAL_NAME, META_NAME, write_text_atomic
from convoload.store.judgements import iter_judgements

REPORT_NAME = "report.html"
TEMPLATE = "report.html.j2"
# Bucket widths (seconds) for findings over time: the smallest that keeps the chart readable.
BUCKET_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400)
MAX_BUCKETS = 60
# Successful transcripts inlined in the page (every failed and interrupted one is): keeps the page of a
# run of any length small enough for a browser to open.
SAMPLE_SUCCESSES = 200
# Conversations the judge failed, listed with the criteria they failed (and their transcripts shown):
# the first ones in the run's order, so that the page of a run the judge failed throughout stays small.
LISTED_JUDGE_FAILURES = 200


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
    # Sessions whose transcript the page shows whatever their outcome (the judge's listed failures).
    flagged: frozenset[str] = frozenset()
    flags: bytearray = field(default_factory=bytearray)

    def add(self, record: ConversationRecord) -> None:
        position = len(self.starts)
        self.flags.append(record.session_id in self.flagged)
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
        not reach its goal or is flagged (the judge failed it), and SAMPLE_SUCCESSES successful ones
        evenly spaced over the run (all when fewer)."""
        successes = [p for p in ordered if self.succeeded[p]]
        if len(successes) <= SAMPLE_SUCCESSES:
            return ordered
        picked = {successes[k * len(successes) // SAMPLE_SUCCESSES] for k in range(SAMPLE_SUCCESSES)}
        return [p for p in ordered if not self.succeeded[p] or p in picked or self.flags[p]]


def render_html(
    report: RunReport | Mapping[str, Any],
    records: list[ConversationRecord],
    judgements: Iterable[Judgement] = (),
) -> str:
    """The self-contained report page for a run's report (or aggregate document) and its records;
    `judgements`: the judge's verdicts (judgements.jsonl), shown when the report has a judgement."""
    report = RunReport.of(report)
    verdicts = list(judgements) if report.judgement is not None else []
    failed = _listed_failures(verdicts)
    digest = _RunDigest(flagged=frozenset(j.session_id for j in failed))
    for record in records:
        digest.add(record)
    ordered = digest.start_order()
    shown = [records[p] for p in digest.shown(ordered)]
    sessions = {r.session_id for r in shown}
    return _render(
        report,
        digest,
        ordered,
        shown,
        failed,
        {j.session_id: j for j in verdicts if j.session_id in sessions},
    )


def _listed_failures(judgements: Iterable[Judgement]) -> list[Judgement]:
    """The first LISTED_JUDGE_FAILURES conversations the judge failed, in the judgements' order."""
    failed: list[Judgement] = []
    for j in judgements:
        if j.status == "judged" and j.passed is False:
            failed.append(j)
            if len(failed) == LISTED_JUDGE_FAILURES:
                break
    return failed


def _render(
    report: RunReport,
    digest: _RunDigest,
    ordered: list[int],
    shown: list[ConversationRecord],
    failed: list[Judgement] | None = None,
    verdicts: Mapping[str, Judgement] | None = None,
) -> str:
    failed, verdicts = failed or [], verdicts or {}
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
        "judge": _judge_view(report.judgement, failed, {r.session_id for r in shown}),
        "conversations": [_conversation_view(r, verdicts.get(r.session_id)) for r in shown],
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
    none), once for the transcripts the page shows. A judged run's judgements.jsonl is read twice too:
    for the failures the page lists, then for the verdicts of the transcripts it shows."""
    run_dir = Path(run_dir)
    journal = run_dir / JOURNAL_NAME
    if not journal.is_file():
        raise ConfigError(str(run_dir), "", f"no {JOURNAL_NAME} here: not a convoload run folder")
    document = dict(aggregate) if aggregate is not None else _load_json(run_dir / AGGREGATE_NAME)
    # No (or a corrupt) aggregate, e.g. after a crash: the journal has everything needed.
    aggregator = Aggregator(journal=journal) if document is None else None
    judged = document is not None and document.get("judgement") is not None
    judge_failed = _listed_failures(iter_judgements(run_dir)) if judged else []
    digest = _RunDigest(flagged=frozenset(j.session_id for j in judge_failed))
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
    report = RunReport.from_document(document or {}, run_dir=run_dir)
    verdicts: dict[str, Judgement] = {}
    if judged:  # judgements.jsonl again, a line at a time: only the shown transcripts' verdicts kept
        sessions = {r.session_id for r in shown}
        verdicts = {j.session_id: j for j in iter_judgements(run_dir) if j.session_id in sessions}
    out = run_dir / REPORT_NAME
    write_text_atomic(out, _render(report, digest, ordered, shown, judge_failed, verdicts))
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


def _conversation_view(record: ConversationRecord, judgement: Judgement | None = None) -> dict[str, Any]:
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
        "judgement": _verdict_view(judgement),
    }


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _score(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _judge_view(
    summary: JudgementSummary | None, failed: list[Judgement], shown: set[str]
) -> dict[str, Any] | None:
    """The Judge section: KPIs, per criterion and per persona, and the failures listed with the
    criteria they failed (linked to their transcript when the page shows it); None when unjudged."""
    if summary is None:
        return None
    return {
        "pass_rate": _pct(summary.pass_rate) if summary.judged else "–",
        "mean_score": _score(summary.mean_score),
        "judged": summary.judged,
        "passed": summary.passed,
        "conversations": summary.conversations,
        "errors": summary.judge_errors,
        "judges": ", ".join(summary.judges) or "–",
        "rubrics": ", ".join(summary.rubrics) or "–",
        "cost": charts.fmt_usd(summary.usage.cost_usd),
        "tokens": summary.usage.total_tokens,
        "chart": charts.pass_bars(
            "judge-criteria",
            "Judge pass rate per criterion",
            [(c.id, c.judged, c.passed) for c in summary.criteria],
        ),
        "criteria": [
            {
                "id": c.id,
                "judged": c.judged,
                "passed": c.passed,
                "pass_rate": _pct(c.pass_rate) if c.judged else "–",
                "mean_score": _score(c.mean_score),
            }
            for c in summary.criteria
        ],
        "personas": [
            {
                "name": p.name,
                "conversations": p.conversations,
                "judged": p.judged,
                "errors": p.judge_errors,
                "passed": p.passed,
                "pass_rate": _pct(p.pass_rate) if p.judged else "–",
                "mean_score": _score(p.mean_score),
            }
            for p in summary.personas
        ],
        "failed": [
            {
                "session_id": j.session_id,
                "user_id": j.user_id,
                "persona": j.persona,
                "score": _score(j.score),
                "shown": j.session_id in shown,
                "criteria": [c for c in j.criteria if not c.passed],
            }
            for j in failed
        ],
        "failed_total": summary.judged - summary.passed,
    }


def _verdict_view(judgement: Judgement | None) -> dict[str, Any] | None:
    """The judge's verdict shown inside a transcript."""
    if judgement is None:
        return None
    return {
        "status": judgement.status,
        "passed": judgement.passed,
        "score": _score(judgement.score),
        "judge": judgement.judge or "–",
        "rubric": judgement.rubric,
        "error": judgement.error,
        "criteria": judgement.criteria,
    }
