"""Terminal output: the run summary tables and a live transcript printer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from convoload.events import ConversationFinished, EventBus, ReplyReceived, TurnFailed, TurnSent
from convoload.model.pipeline import RESULTS_FILE, PipelineOverall, PipelineResults, ScenarioResult
from convoload.model.report import Distribution, RequestRow, RunReport, RunSummary
from convoload.report.completion import describe

_PERSONA_STYLES = ("cyan", "magenta", "green", "yellow", "blue", "bright_red")


def _ms(value: Any) -> str:
    if value is None or value != value:  # None or NaN
        return "-"
    if value >= 10_000:
        return f"{value / 1000:.2f} s"
    return f"{value:.0f} ms" if value >= 10 else f"{value:.2f} ms"


def print_summary(console: Console, report: RunReport | Mapping[str, Any], locust_stats: Any = None) -> None:
    report = RunReport.of(report)
    summary = report.summary
    overview = Table(title="Conversations", show_header=False, title_justify="left")
    overview.add_column(style="bold")
    overview.add_column()
    overview.add_row("total", str(summary.total_conversations))
    completion = summary.completion
    if completion and (completion.planned_conversations is not None or not completion.complete):
        text = describe(completion) + ("" if completion.complete else ": incomplete")
        overview.add_row("planned", f"[{'green' if completion.complete else 'bold red'}]{escape(text)}[/]")
    goal = f"{summary.successful_conversations} ({summary.success_rate_pct})"
    if summary.simulator_errors:
        goal += f" of {summary.total_conversations - summary.simulator_errors} (simulator errors left out)"
    overview.add_row("goal reached", goal)
    assessment = report.assessment
    if assessment:
        colour = {"healthy": "green", "warning": "yellow", "critical": "red"}[assessment.health]
        overview.add_row(
            "grade / health",
            f"[bold]{assessment.grade}[/] / [{colour}]{assessment.health}[/]"
            f" (p95 turn {assessment.p95_turn_s:.2f} s, error rate "
            f"{100 * assessment.error_rate:.1f}%)",
        )
    judged = report.judgement
    if judged is not None:
        score = f", mean score {judged.mean_score:.2f}" if judged.mean_score is not None else ""
        overview.add_row(
            "judge",
            f"passed {judged.passed} of {judged.judged} judged ({100 * judged.pass_rate:.1f}%){score}"
            + (f", [red]{judged.judge_errors} judge errors[/]" if judged.judge_errors else ""),
        )
    overview.add_row("interrupted", str(summary.interrupted_conversations))
    overview.add_row("failed (errors)", str(summary.failed_conversations))
    if summary.simulator_errors:
        faults = ", ".join(f"{k}: {v}" for k, v in summary.simulator_faults.items())
        overview.add_row(
            "simulator errors", f"[yellow]{summary.simulator_errors}[/] ({escape(faults)}; not the agent's)"
        )
    overview.add_row("avg iterations", f"{summary.avg_iterations_per_conversation:.2f}")
    if summary.avg_iterations_to_goal is not None:
        overview.add_row("avg iterations to goal", f"{summary.avg_iterations_to_goal:.2f}")
    top = ", ".join(f"{k} ×{v}" for k, v in list(summary.agent_transitions.items())[:4])
    overview.add_row("agent changes", f"{summary.agent_changes}" + (f" ({top})" if top else ""))
    tokens = summary.tokens
    overview.add_row(
        "tokens (simulated users)",
        f"{tokens.total} (prompt {tokens.prompt}, cached {tokens.cached}, output {tokens.completion})",
    )
    overview.add_row("cost", f"US$ {summary.total_cost_usd:.6f}")
    overview.add_row(
        "per conversation",
        f"{summary.tokens_per_conversation:.0f} tokens, US$ {summary.cost_per_conversation_usd:.6f}",
    )
    if summary.cost_per_success_usd is not None:
        overview.add_row("per success", cost_per_success_text(summary))
    llm = summary.llm
    if llm.calls or llm.replayed_calls:
        overview.add_row(
            "LLM calls",
            f"{llm.calls} to providers, {llm.replayed_calls} replayed "
            f"({llm.replayed_pct:.1f}%), saved {llm.saved_tokens} tokens / "
            f"US$ {llm.saved_cost_usd:.6f}",
        )
    for route, count in llm.fallbacks.items():
        overview.add_row("LLM fallback", f"{route}: {count}")
    if summary.errors_by_kind:
        overview.add_row("errors", ", ".join(f"{k}: {v}" for k, v in summary.errors_by_kind.items()))
    target_stats = report.run.target_stats or {}
    rejected = {
        k: v
        for k, v in target_stats.items()
        if k.startswith("callbacks_") and not k.endswith("accepted") and v
    }
    if rejected:
        overview.add_row(
            "rejected callbacks",
            ", ".join(f"{k.removeprefix('callbacks_')}: {v}" for k, v in rejected.items()),
        )
    for label, text in platform_rows(target_stats):
        overview.add_row(label, escape(text))
    console.print(overview)

    findings = report.findings
    if findings.by_hook:
        hooks = Table(title=f"Hook findings ({findings.total})", title_justify="left")
        for column in ("hook", "priority", "findings", "conversations", "example"):
            hooks.add_column(column)
        order = {"critical": 0, "business": 1, "quality": 2}
        for name, entry in sorted(
            findings.by_hook.items(), key=lambda kv: (order.get(kv[1].priority or "", 3), -kv[1].count)
        ):
            example = (entry.examples[0].message or "") if entry.examples else ""
            style = "red" if entry.priority == "critical" else None
            hooks.add_row(
                name,
                entry.priority or "",
                str(entry.count),
                str(entry.conversations),
                example[:60],
                style=style,
            )
        console.print(hooks)

    console.print(latency_table(report))

    personas = Table(title="Personas", title_justify="left")
    for column in ("persona", "conversations", "goal reached", "avg iterations", "errors"):
        personas.add_column(column)
    for name, p in report.personas.items():
        errors = ", ".join(f"{k}: {v}" for k, v in p.errors_by_kind.items()) or "-"
        personas.add_row(
            name,
            str(p.conversations),
            f"{p.successful} ({100 * p.success_rate:.0f}%)",
            f"{p.avg_iterations:.1f}",
            errors,
        )
    console.print(personas)

    if assessment and assessment.recommendations:
        console.print("[bold]Recommendations[/]")
        for line in assessment.recommendations:
            console.print(f"  • {line}", markup=False)

    if locust_stats is not None:
        print_locust_stats(console, locust_stats)


def cost_per_success_text(summary: RunSummary) -> str:
    """US$ per successful conversation and its parts (simulator, judge, agent)."""
    return (
        f"US$ {summary.cost_per_success_usd:.6f} (simulator US$ {summary.simulator_cost_usd:.6f}, "
        f"judge US$ {summary.judge_cost_usd:.6f}, agent US$ {summary.agent_cost_usd:.6f})"
    )


_REQUEST_CAPTION = (
    "MESSAGE send → complete reply · ACK send → acknowledgement · WEBHOOK ack → callback · "
    "CONVERSATION whole dialogue · LLM simulated-user call; fails are not in the percentiles"
)


def latency_table(report: RunReport | Mapping[str, Any]) -> Table:
    """p50/p90/p95/p99/max per request type, for all and per persona (or model), from every value."""
    report = RunReport.of(report)
    table = Table(
        title="Latency (exact, every value)",
        title_justify="left",
        caption=_REQUEST_CAPTION,
        caption_justify="left",
        show_edge=False,  # eight columns: keeps them whole in an 80-column terminal
    )
    table.add_column("request", no_wrap=True)
    for column in ("count", "fails", "p50", "p90", "p95", "p99", "max"):
        table.add_column(column, justify="right", no_wrap=True)
    rows_by_kind: dict[str, tuple[Distribution, dict[str, Distribution]]] = {
        kind: (rows.all, dict(rows.by_name)) for kind, rows in report.requests.items()
    }
    if "requests" not in report.model_fields_set:  # an aggregate written before per-type tables
        latency = report.latency
        rows_by_kind = {
            "MESSAGE": (latency.turn_ms, {}),
            "ACK": (latency.ack_ms, {}),
            "CONVERSATION": (latency.conversation_ms, {}),
        }
    for kind, (overall, by_name) in rows_by_kind.items():
        named = [(f"  {name}", dist) for name, dist in by_name.items() if dist.count]
        if not overall.count and not _failures(overall):
            continue
        for position, (label, dist) in enumerate([(kind, overall), *named]):
            failures = _failures(dist)
            table.add_row(
                label,
                str(dist.count),
                "-" if failures is None else str(failures),
                *(_ms(value) for value in (dist.p50, dist.p90, dist.p95, dist.p99, dist.max)),
                style="bold" if position == 0 else None,
                end_section=position == len(named),
            )
    return table


def _failures(dist: Distribution) -> int | None:
    """A request row's failures; None for the run-wide rows of old aggregates, which have none."""
    return dist.failures if isinstance(dist, RequestRow) else None


def print_locust_stats(console: Console, stats: Any) -> None:
    table = Table(title="Locust requests", title_justify="left")
    for column in ("type", "name", "# reqs", "# fails", "median", "p95", "avg"):
        table.add_column(column)
    for entry in sorted(stats.entries.values(), key=lambda e: (e.method, e.name)):
        table.add_row(
            entry.method,
            entry.name,
            str(entry.num_requests),
            str(entry.num_failures),
            _ms(entry.median_response_time),
            _ms(entry.get_response_time_percentile(0.95)),
            _ms(entry.avg_response_time),
        )
    console.print(table)


class TranscriptPrinter:
    """Prints every message as it happens, one colour per conversation."""

    def __init__(self, console: Console, bus: EventBus, *, show_user_id: bool = True) -> None:
        self.console = console
        self.show_user_id = show_user_id
        self._styles: dict[str, str] = {}
        bus.subscribe(TurnSent, self._sent)
        bus.subscribe(ReplyReceived, self._reply)
        bus.subscribe(TurnFailed, self._failed)
        bus.subscribe(ConversationFinished, self._finished)

    def _label(self, session_id: str, persona: str) -> Text:
        style = self._styles.setdefault(session_id, _PERSONA_STYLES[len(self._styles) % len(_PERSONA_STYLES)])
        tag = f"{persona} {session_id[:6]}" if self.show_user_id else persona
        return Text(f"[{tag}] ", style=f"bold {style}")

    def _sent(self, event: TurnSent) -> None:
        self.console.print(self._label(event.session_id, event.persona) + Text(f"👤 {event.text}"))

    def _reply(self, event: ReplyReceived) -> None:
        turn = event.turn
        meta = f"({turn.agent or 'agent'}, {_ms(turn.latency_ms)})"
        body = Text(f"🤖 {meta} ", style="dim") + Text(turn.reply_text or "")
        self.console.print(self._label(event.session_id, event.persona) + body)

    def _failed(self, event: TurnFailed) -> None:
        self.console.print(
            self._label(event.session_id, event.persona)
            + Text(f"❌ {event.error.kind.value}: {event.error.message}", style="red")
        )

    def _finished(self, event: ConversationFinished) -> None:
        record = event.record
        mark = (
            "🎉 goal reached"
            if record.goal_reached
            else f"⏹ {record.outcome.value if record.outcome else '?'}"
        )
        reason = f" ({record.stop_reason})" if record.stop_reason and not record.goal_reached else ""
        self.console.print(
            self._label(event.session_id, event.persona)
            + Text(
                f"{mark} after {record.iterations} turns, {_ms(record.total_time_ms)}{reason}", style="bold"
            )
        )


_HEALTH_COLOURS = {"healthy": "green", "warning": "yellow", "critical": "red"}
# Short column labels of the quality metrics; a suite's domain check is labelled by its name's first word.
_QUALITY_LABELS = {"agent_coordination": "coordination", "user_experience": "experience"}


def _quality(results: PipelineResults) -> list[tuple[str, str]]:
    """(label, metric) of the results' quality metrics, in their order."""
    return [(_QUALITY_LABELS.get(key, key.split("_")[0]), key) for key in results.overall.integration]


def _share(value: float | None) -> str:
    """A quality metric; "-" for a scenario without it (one the conversation judge did not judge)."""
    return "-" if value is None else f"{value:.2f}"


def print_pipeline(console: Console, results: PipelineResults | Mapping[str, Any]) -> None:
    """The pipeline's results: one table when it fits the terminal, else a block per scenario."""
    results = PipelineResults.of(results)
    table = _pipeline_table(results)
    natural = Measurement.get(console, console.options.update_width(10_000), table).maximum
    if natural <= console.width:
        console.print(table)
    else:  # squeezed, the table's columns would break every name and number
        _print_pipeline_blocks(console, results)
    console.print("[bold]Recommendations[/]")
    for line in results.overall.recommendations:
        console.print(f"  • {line}", markup=False)
    if results.folder is not None:
        console.print(f"results: {results.folder}/{RESULTS_FILE} (and scenarios.csv)")


def _pipeline_table(results: PipelineResults) -> Table:
    quality = _quality(results)
    table = Table(title="Pipeline", title_justify="left")
    for column in (
        "scenario",
        "success",
        "p50",
        "p95",
        *(q for q, _ in quality),
        "health",
        "grade",
        "pass^k",
    ):
        table.add_column(column, no_wrap=True)
    for r in results.scenarios:
        pass_k = f"{r.pass_k.value:.2f} (k={r.pass_k.k})" if r.pass_k is not None else "-"
        table.add_row(
            r.name,
            f"{r.successful}/{r.conversations}",
            _ms(r.latency_ms.p50),
            _ms(r.latency_ms.p95),
            *(_share(r.integration.get(key)) for _, key in quality),
            f"[{_HEALTH_COLOURS[r.health]}]{r.health}[/]",
            r.grade,
            pass_k,
        )
    o = results.overall
    table.add_row(
        "[bold]overall[/]",
        f"{o.successful}/{o.conversations}",
        _ms(o.latency_ms.p50),
        _ms(o.latency_ms.p95),
        *(_share(o.integration.get(key)) for _, key in quality),
        f"[{_HEALTH_COLOURS[o.health]}]{o.health}[/]",
        f"[bold]{o.grade}[/]",
        "",
    )
    return table


def _print_pipeline_blocks(console: Console, results: PipelineResults) -> None:
    """Three short lines per scenario (name, grade, health; success and latency; quality)."""
    console.print("[bold]Pipeline[/]")
    rows: list[tuple[str, ScenarioResult | PipelineOverall]] = [(r.name, r) for r in results.scenarios]
    for name, r in [*rows, ("overall", results.overall)]:
        head = Text(name, style="bold") + Text("  ") + Text(r.grade, style="bold")
        head += Text("  ") + Text(r.health, style=_HEALTH_COLOURS[r.health])
        numbers = [
            f"success {r.successful}/{r.conversations}",
            f"p50 {_ms(r.latency_ms.p50)}",
            f"p95 {_ms(r.latency_ms.p95)}",
        ]
        if isinstance(r, ScenarioResult) and r.pass_k is not None:
            numbers.append(f"pass^{r.pass_k.k} {r.pass_k.value:.2f}")
        quality = [f"{label} {_share(r.integration.get(key))}" for label, key in _quality(results)]
        console.print(head)
        console.print("  " + " · ".join(numbers), markup=False, highlight=False)
        console.print("  " + " · ".join(quality), markup=False, highlight=False)


def platform_rows(target_stats: dict) -> list[tuple[str, str]]:
    """An emulated platform's figures (target.type whatsapp, ...): what the bot did, and its bad calls."""
    rows = []
    turns = target_stats.get("platform_turns") or 0  # turns the bot answered
    if turns:
        messages = target_stats.get("platform_messages", 0)
        parts = [
            f"{turns} turns answered, {messages} messages ({messages / turns:.2f} per turn)",
            f"first message {target_stats.get('platform_first_message_ms_sum', 0) / turns:.0f} ms on average",
        ]
        typing_turns = target_stats.get("platform_typing_turns") or 0
        if typing_turns:
            typing_ms = target_stats.get("platform_typing_ms_sum", 0) / typing_turns
            parts.append(f"typing {typing_ms:.0f} ms on average")
        for key, label in (("platform_taps", "taps"), ("platform_messages_late", "late messages")):
            if target_stats.get(key):
                parts.append(f"{label} {target_stats[key]}")
        rows.append(("platform", ", ".join(parts)))
    faults = {
        k.removeprefix("platform_fault_"): v
        for k, v in target_stats.items()
        if k.startswith("platform_fault_")
    }
    if faults:
        rows.append(("platform faults", ", ".join(f"{k}: {v}" for k, v in sorted(faults.items()))))
    return rows
