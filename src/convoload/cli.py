"""The `convoload` command line."""

from gevent import monkey

monkey.patch_all()  # first of all: conversations run in gevent greenlets under Locust's runner

import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import TYPE_CHECKING, Annotated, Any  # noqa: E402

import typer  # noqa: E402
from pydantic import ValidationError  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: E402

from convoload.config import (  # noqa: E402
    Config,
    Override,
    apply_llm_flags,
    apply_overrides,
    llm_overrides,
    load_config,
)
from convoload.errors import ConfigError, InputError, pydantic_error_to_config_error  # noqa: E402
from convoload.report.grading import GRADE_ORDER  # noqa: E402
from convoload.store.results.cli import runs_app  # noqa: E402

if TYPE_CHECKING:
    from convoload.load.context import RunContext
    from convoload.signals import GracefulStop

app = typer.Typer(
    help="Persona-driven multi-turn load testing for conversational AI agents.\n\n"
    "Simulated customers with personas hold whole conversations with your agent "
    "(HTTP, webhook callbacks or in-process), under Locust, and every conversation is recorded.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)
personas_app = typer.Typer(help="List, show and validate personas.", no_args_is_help=True)
app.add_typer(personas_app, name="personas")
llm_app = typer.Typer(help="LLM providers used by LLM-driven simulated users.", no_args_is_help=True)
app.add_typer(llm_app, name="llm")
app.add_typer(runs_app, name="runs")

console = Console()
err_console = Console(stderr=True)

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-f",
        help="YAML config file (default: the bundled demo agent, no keys or network needed).",
    ),
]
PersonaOpt = Annotated[
    str | None, typer.Option("--persona", "-p", help="Give every user this persona (name).")
]
SeedOpt = Annotated[
    int | None, typer.Option("--seed", help="Seed for personas and identities (reproducible).")
]
RunsDirOpt = Annotated[
    Path | None, typer.Option("--runs-dir", help="Where run folders go (default: ./runs).")
]
PersonasOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--personas",
        help="Personas to use instead of the config's: built-in names, persona files "
        "(.yaml/.txt) or folders. Repeatable.",
    ),
]
UrlOpt = Annotated[str | None, typer.Option("--url", help="Target URL, instead of the config's target.")]
TypeOpt = Annotated[
    str | None,
    typer.Option(
        "--type", help="Target type with --url: http or webhook (default: http, or webhook with --preset)."
    ),
]
PresetOpt = Annotated[
    str | None,
    typer.Option(
        "--preset", help="Webhook preset: widget (POST {text, channelId, clientIdentifier, webhook})."
    ),
]
RampUpOpt = Annotated[
    float | None,
    typer.Option("--ramp-up", help="Spread the first conversations over this many seconds."),
]
UserModeOpt = Annotated[
    str | None,
    typer.Option(
        "--user-mode",
        help="Who plays the customers: scripted (offline, free), llm, mixed (the "
        "persona's fixed steps, then the LLM), or fixed (the config's user.scripts).",
    ),
]
LlmOpt = Annotated[
    str | None,
    typer.Option(
        "--llm",
        help="PROVIDER/MODEL for LLM users, e.g. gemini/gemini-2.5-flash, "
        "openrouter/google/gemma-3-27b-it:free, ollama/gemma3n:e2b, local/persona (bundled, offline).",
    ),
]
ReplayOpt = Annotated[
    bool | None,
    typer.Option(
        "--replay/--no-replay",
        help="Answer LLM-user calls from the record/replay cache when the "
        "conversation so far matches a recorded one.",
    ),
]
MaxIterOpt = Annotated[
    int | None, typer.Option("--max-iterations", help="Turns before giving up (default 15, at most 500).")
]


# The run settings each flag sets, for the flag's name in errors.
_RUN_FLAGS = {
    "conversations": "--conversations",
    "concurrency": "--concurrency",
    "seed": "--seed",
    "max_iterations": "--max-iterations",
    "ramp_up_s": "--ramp-up",
    "runs_dir": "--runs-dir",
}


def _apply_overrides(
    config: Config,
    *,
    personas: list[str] | None = None,
    url: str | None = None,
    target_type: str | None = None,
    preset: str | None = None,
    runs_dir: Path | None = None,
    user_mode: str | None = None,
    llm: str | None = None,
    replay: bool | None = None,
    extra: list[Override] | None = None,
    **run_values: Any,
) -> Config:
    """Command-line flags win over the config file; they are validated like the file (errors name the flag).

    `run_values` are run settings by field name (see _RUN_FLAGS); `extra` any other flag's field.
    """
    run_values["runs_dir"] = str(runs_dir) if runs_dir else None
    overrides = [Override(_RUN_FLAGS[k], f"run.{k}", v) for k, v in run_values.items()]
    if url or target_type or preset:
        kind = target_type or config.target.type
        if kind in ("demo", "python") and url:
            kind = "webhook" if preset else "http"
        type_flag = "--type" if target_type else "--url" if url else "--preset"
        overrides += [
            Override(type_flag, "target.type", kind),
            Override("--url", "target.url", url),
            Override("--preset", "target.preset", preset),
        ]
    overrides.append(Override("--personas", "personas", list(personas) if personas else None))
    overrides += extra or []
    overrides += llm_overrides(config, user_mode, llm, replay)
    return apply_overrides(config, overrides, base_dir=Path.cwd() if personas else None)


def _check_port(port: int) -> None:
    if not 0 <= port <= 65535:
        raise ConfigError("--port", "", f"{port} is not a port (0-65535; 0 picks a free one)")


def _check_grade_floor(floor: str | None) -> None:
    """Fail on a bad --grade-floor before anything runs."""
    if floor is not None and floor not in GRADE_ORDER:
        raise ConfigError("--grade-floor", "", f"unknown grade {floor!r} (one of {', '.join(GRADE_ORDER)})")


def _enforce_grade_floor(grade: str, floor: str | None, what: str = "grade") -> None:
    from convoload.report.grading import at_least

    if floor is not None and not at_least(grade, floor):
        err_console.print(f"{what} {grade} is below the floor {floor}")
        raise typer.Exit(1)


def _execute(
    config: Config,
    *,
    persona: str | None,
    transcript: bool,
    progress: bool,
    duration_s: float | None = None,
    stress: dict[str, Any] | None = None,
) -> dict:
    """One run: a fixed number of conversations, or (with `stress`) users for a duration.

    The first SIGINT or SIGTERM ends it the way its time limit would (see convoload.signals): the
    records, aggregate, report and summary are written, then the process exits 130 or 143.
    """
    from convoload.load.context import RunContext
    from convoload.load.plan import RunPlan
    from convoload.signals import GracefulStop

    if stress:
        peak = max([stress["users"], *(n for _, n in stress["steps"])])
        plan = RunPlan(users=peak, duration_s=stress["duration_s"], profile=stress["profile"])
    else:
        plan = RunPlan(conversations=config.run.conversations, duration_s=duration_s)
    with GracefulStop() as stopping:  # from here on a signal ends the run with its records complete
        context = RunContext(config, pinned_persona=persona, plan=plan)
        try:
            document = _run_and_report(
                context,
                stopping,
                transcript=transcript,
                progress=progress,
                duration_s=duration_s,
                stress=stress,
            )
        finally:
            context.close()
    if stopping.exit_code is not None:
        raise typer.Exit(stopping.exit_code)
    return document


def _run_and_report(
    context: "RunContext",
    stopping: "GracefulStop",
    *,
    transcript: bool,
    progress: bool,
    duration_s: float | None,
    stress: dict[str, Any] | None,
) -> dict:
    from convoload.events import ConversationFinished
    from convoload.load.engine import run_for, run_load
    from convoload.report.console import TranscriptPrinter, print_summary
    from convoload.report.html import write_html_report

    config = context.config
    shape = (
        f"{stress['users']} users for {stress['duration_s']:g} s ({stress['profile']})"
        if stress
        else f"{config.run.conversations} conversations, {config.run.concurrency} at a time"
    )
    console.print(f"[bold]convoload[/] run [cyan]{context.run_id}[/] · {shape} · seed {context.seed}")
    if context.demo_components:
        parts = ", ".join(f"{k} {v}" for k, v in context.demo_components.items())
        console.print(f"demo real-estate system: {parts}")
    elif context.demo_url:
        console.print(f"demo agent at {context.demo_url} (webhook widget API)")
    if transcript:
        TranscriptPrinter(console, context.bus)
    bar = None
    if progress:
        bar = Progress(
            TextColumn("conversations"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        task = bar.add_task("run", total=None if stress else config.run.conversations)
        context.bus.subscribe(ConversationFinished, lambda _e: bar.advance(task))
        bar.start()
    try:
        if stress:
            result = run_for(
                context,
                stress["users"],
                stress["duration_s"],
                steps=stress["steps"],
                ramp_up_s=stress["ramp_up_s"],
                drain_s=stress["drain_s"],
                stop=stopping.request,
            )
        else:
            result = run_load(
                context,
                config.run.conversations,
                config.run.concurrency,
                duration_s=duration_s,
                ramp_up_s=config.run.ramp_up_s,
                stop=stopping.request,
            )
    finally:
        if bar is not None:
            bar.stop()
    document = context.aggregate()
    print_summary(console, document, result.stats)
    report = write_html_report(context.run_dir)
    console.print(f"records: {context.run_dir}  (aggregate.json, journal.jsonl, conversations/)")
    console.print(f"report: {report}")
    if result.interrupted:
        why = f" by {context.stopped_by}" if context.stopped_by else ""
        err_console.print(
            f"[yellow]stopped early{why}: unfinished conversations are recorded as interrupted[/]",
            highlight=False,
        )
    return document


def _execute_on_workers(
    workers: int,
    config_path: Path | None,
    config: Config,
    *,
    persona: str | None,
    duration_s: float | None,
    flags: dict[str, Any],
) -> dict:
    """`run --workers N`: Locust's master and N workers as processes on loopback; the merged summary.

    SIGINT or SIGTERM is passed on to the master (its workers cut off what is under way, it writes the
    merged aggregate); a second one to every process, then this one exits at once.
    """
    import subprocess

    from convoload.load.distributed import run_arguments, run_cluster
    from convoload.report.console import print_summary
    from convoload.report.grading import assess
    from convoload.signals import GracefulStop

    options, master = run_arguments(
        config=str(config_path.resolve()) if config_path else None,
        conversations=config.run.conversations,
        concurrency=config.run.concurrency,
        duration_s=duration_s,
        ramp_up_s=config.run.ramp_up_s,
        persona=persona,
        seed=config.run.seed,
        max_iterations=config.run.max_iterations,
        **flags,  # --user-mode, --llm, --replay as given: the rest comes from the config file
    )
    console.print(
        f"[bold]convoload[/] run on {workers} Locust workers · {config.run.conversations} conversations, "
        f"{config.run.concurrency} at a time"
    )
    processes: list[subprocess.Popen[bytes]] = []

    def pass_on(signum: int) -> None:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signum)

    with GracefulStop(before_exit=pass_on) as stopping:
        result = run_cluster(
            workers,
            options,
            [*master, "--exit-code-on-error", "0"],
            runs_dir=config.run.runs_dir,
            stop=stopping.request,
            started=processes,
        )
        document = result.aggregate()
        if document is None or (result.exit_code not in (0,) and stopping.exit_code is None):
            err_console.print(
                f"the distributed run failed (exit {result.exit_code}); logs in {result.run_dir}"
            )
            raise typer.Exit(stopping.exit_code or result.exit_code or 1)
        document.setdefault("assessment", assess(document))
        print_summary(console, document)
        console.print(f"records: {result.run_dir}  (aggregate.json; each worker's records in worker-<k>/)")
    if stopping.exit_code is not None:
        raise typer.Exit(stopping.exit_code)
    return document


@app.command()
def demo(
    agent: Annotated[
        str,
        typer.Option(
            "--agent",
            help="all (default), realestate (catalog API + multi-agent assistant) or "
            "tickets (ticket seller answering through webhooks).",
        ),
    ] = "all",
    conversations: Annotated[
        int | None,
        typer.Option(
            "--conversations",
            "-n",
            help="Conversations per agent (default: one per persona; personas take turns).",
        ),
    ] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", help="Conversations at once.")] = 5,
    persona: PersonaOpt = None,
    seed: SeedOpt = None,
    runs_dir: RunsDirOpt = None,
    reply_delay: Annotated[
        float, typer.Option(help="Ticket agent reply delay in seconds (plus jitter).")
    ] = 0.3,
    listings: Annotated[int, typer.Option(help="Real-estate catalog size (at least 100).")] = 10_000,
    user_mode: UserModeOpt = None,
    llm: LlmOpt = None,
    replay: ReplayOpt = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No live transcript, only the summary.")
    ] = False,
) -> None:
    """Run the built-in personas against the bundled demo agents. No keys, no network.

    realestate: starts the property catalog API (SQLite, generated listings) and the
    multi-agent real-estate assistant (triage, search, property, scheduling agents;
    offline rule-based brain, or an LLM chain when OPENROUTER_API_KEY is set) and
    runs Renata, Ricardo, Júlia, Helena and Marcus until each has a visit booked.
    tickets: starts the ticket-booking agent (answers through webhook callbacks)
    and runs Kataryna, Talliz and Edman until each gets a payment link. Prints the
    live transcript and the summary, and says where the records are. Exit code 1
    if any conversation missed its goal; 130 / 143 when Ctrl-C or SIGTERM ended it (as
    for `convoload run`). With --user-mode llm and no key
    configured, the customers are played through the bundled local LLM provider.
    """
    from convoload.config import DEMO_PERSONAS
    from convoload.textutil import fold

    if agent not in ("all", "realestate", "tickets"):
        raise ConfigError("--agent", "", f"{agent!r} is not one of all, realestate, tickets")
    agents = ["realestate", "tickets"] if agent == "all" else [agent]
    if persona is not None:
        agents = [a for a in agents if fold(persona) in DEMO_PERSONAS[a]] or agents
    configs = [  # every flag checked before the first agent runs
        _apply_overrides(
            load_config(None),
            conversations=conversations if conversations is not None else len(DEMO_PERSONAS[name]),
            concurrency=concurrency,
            seed=seed,
            runs_dir=runs_dir,
            user_mode=user_mode,
            llm=llm,
            replay=replay,
            extra=[
                Override("--agent", "run.persona_assignment", "round_robin"),
                Override("--agent", "target.demo.agent", name),
                Override("--reply-delay", "target.demo.reply_delay_s", reply_delay),
                Override("--listings", "target.demo.listings", listings),
            ],
        )
        for name in agents
    ]
    failed = False
    for config in configs:
        document = _execute(config, persona=persona, transcript=not quiet, progress=quiet)
        summary = document["summary"]
        failed = failed or summary["successful_conversations"] != summary["total_conversations"]
    if failed:
        raise typer.Exit(1)


@app.command()
def run(
    config_path: ConfigOpt = None,
    conversations: Annotated[
        int | None,
        typer.Option("--conversations", "-n", help="Conversations to run (default from config: 10)."),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option("--concurrency", "-c", help="Conversations at once (default from config: 3)."),
    ] = None,
    persona: PersonaOpt = None,
    personas: PersonasOpt = None,
    url: UrlOpt = None,
    target_type: TypeOpt = None,
    preset: PresetOpt = None,
    user_mode: UserModeOpt = None,
    llm: LlmOpt = None,
    replay: ReplayOpt = None,
    seed: SeedOpt = None,
    runs_dir: RunsDirOpt = None,
    max_iterations: MaxIterOpt = None,
    ramp_up: RampUpOpt = None,
    duration: Annotated[
        float | None,
        typer.Option(
            "--duration",
            "-t",
            min=0.1,
            help="Stop after this many seconds; unfinished conversations count as interrupted.",
        ),
    ] = None,
    transcript: Annotated[bool, typer.Option(help="Print every message live.")] = False,
    fail_under: Annotated[
        float, typer.Option(min=0, max=100, help="Exit 1 when the goal-reached rate (%) is below this.")
    ] = 0.0,
    grade_floor: Annotated[
        str | None,
        typer.Option(
            "--grade-floor",
            help="Exit 1 when the run's grade is below this (A+, A, B, C, D). "
            "Grades: A+ > 95 % goal reached and p95 turn < 3 s, A > 90 % / 5 s, B > 80 % / 8 s, "
            "C > 70 % / 10 s, D otherwise.",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            help="Run on Locust's master and N worker processes on this machine: each worker has its own "
            "webhook receiver and records (runs/<id>/worker-<k>/), the master merges their exact numbers "
            "(runs/<id>/aggregate.json). The target and personas must come from -f.",
        ),
    ] = None,
) -> None:
    """Run N conversations with concurrency C against the configured target.

    Shows a progress bar and, at the end, the summary: goal-reached rate,
    iterations, exact latency percentiles per request type and persona, errors by
    kind, cost. Records go to runs/<run-id>/.

    Ctrl-C or SIGTERM ends the run as -t does: conversations under way are recorded
    as interrupted, the aggregate, report and summary are written (the run is marked
    incomplete), exit code 130 / 143. A second signal exits at once.
    """
    config = _apply_overrides(
        load_config(config_path),
        personas=personas,
        url=url,
        target_type=target_type,
        preset=preset,
        conversations=conversations,
        concurrency=concurrency,
        seed=seed,
        runs_dir=runs_dir,
        max_iterations=max_iterations,
        ramp_up_s=ramp_up,
        user_mode=user_mode,
        llm=llm,
        replay=replay,
    )
    _check_grade_floor(grade_floor)
    if workers is not None:
        if any(v is not None for v in (url, target_type, preset, personas)) or transcript:
            raise ConfigError(
                "--workers", "", "put the target and personas in the -f config file (workers read only it)"
            )
        document = _execute_on_workers(
            workers,
            config_path,
            config,
            persona=persona,
            duration_s=duration,
            flags={"user_mode": user_mode, "llm": llm, "replay": bool(replay)},
        )
    else:
        document = _execute(
            config, persona=persona, transcript=transcript, progress=not transcript, duration_s=duration
        )
    _enforce_grade_floor(document["assessment"]["grade"], grade_floor)
    if 100 * document["summary"]["success_rate"] < fail_under:
        err_console.print(
            f"goal-reached rate {document['summary']['success_rate_pct']} is below {fail_under}%"
        )
        raise typer.Exit(1)


@app.command()
def stress(
    config_path: ConfigOpt = None,
    agent: Annotated[
        str,
        typer.Option(
            "--agent", help="Without --config/--url: the bundled realestate (default) or tickets agent."
        ),
    ] = "realestate",
    url: UrlOpt = None,
    target_type: TypeOpt = None,
    preset: PresetOpt = None,
    users: Annotated[int, typer.Option("--users", "-u", min=1, help="Virtual users (peak).")] = 10,
    duration: Annotated[float, typer.Option("--duration", "-t", min=1, help="Seconds of load.")] = 60.0,
    profile: Annotated[
        str,
        typer.Option(
            help="steady (all users from the start), ramp (users join over the first half), "
            "spike (a fifth of the users, all of them from 40 % to 70 % of the time, then a fifth)."
        ),
    ] = "steady",
    drain: Annotated[
        float,
        typer.Option(
            min=0,
            help="Seconds that conversations under way at the end get to "
            "finish; the rest are recorded as interrupted.",
        ),
    ] = 60.0,
    personas: PersonasOpt = None,
    user_mode: UserModeOpt = None,
    llm: LlmOpt = None,
    seed: SeedOpt = None,
    runs_dir: RunsDirOpt = None,
    listings: Annotated[int, typer.Option(help="Real-estate catalog size (at least 100).")] = 10_000,
    grade_floor: Annotated[
        str | None, typer.Option("--grade-floor", help="Exit 1 when the run's grade is below this.")
    ] = None,
) -> None:
    """Stress test: virtual users hold conversations back to back for a duration, then the same report.

    Every user starts a new conversation (new persona and identity) as soon as the last one
    ends. When the time is up no new conversation starts and those under way get --drain
    seconds to finish. The summary adds the grade, health and recommendations; records and
    the results store are written as for `convoload run`. Ctrl-C or SIGTERM ends it at once,
    without the drain, as for `convoload run` (exit 130 / 143).
    """
    from convoload.config import DEMO_PERSONAS

    if profile not in ("steady", "ramp", "spike"):
        raise ConfigError("--profile", "", f"{profile!r} is not one of steady, ramp, spike")
    _check_grade_floor(grade_floor)
    if agent not in DEMO_PERSONAS:
        raise ConfigError("--agent", "", f"{agent!r} is not one of {', '.join(DEMO_PERSONAS)}")
    bundled = config_path is None and url is None
    config = _apply_overrides(
        load_config(config_path),
        personas=personas,
        url=url,
        target_type=target_type,
        preset=preset,
        seed=seed,
        runs_dir=runs_dir,
        user_mode=user_mode,
        llm=llm,
        extra=[
            Override("--agent", "target.demo.agent", agent if bundled else None),
            Override("--listings", "target.demo.listings", listings if bundled else None),
        ],
    )
    first = users if profile != "spike" else max(1, users // 5)
    steps = [(0.4 * duration, users), (0.7 * duration, first)] if profile == "spike" else []
    plan = {
        "users": first,
        "duration_s": duration,
        "steps": steps,
        "profile": profile,
        "drain_s": drain,
        "ramp_up_s": duration / 2 if profile == "ramp" else config.run.ramp_up_s,
    }
    document = _execute(config, persona=None, transcript=False, progress=True, stress=plan)
    _enforce_grade_floor(document["assessment"]["grade"], grade_floor)


def _print_job(name: str, state: str, summary: dict[str, Any] | None) -> None:
    from datetime import datetime

    line = f"{datetime.now():%H:%M:%S} {name:<9} {state}"
    summary = summary or {}
    if state == "failed":
        line += f"  {summary.get('error', '')}"
    elif state == "ok":
        parts = []
        if summary.get("success_rate") is not None:
            parts.append(f"success {100 * summary['success_rate']:.0f}%")
        if summary.get("p95_s") is not None:
            parts.append(f"p95 {summary['p95_s']:.2f} s")
        if summary.get("p95_ms") is not None:
            parts.append(f"p95 {summary['p95_ms'] / 1000:.2f} s")
        if summary.get("grade"):
            parts.append(f"grade {summary['grade']}")
        if name == "health":
            parts += [f"{k} {'up' if v['up'] else 'DOWN'}" for k, v in summary.items()]
        if name == "daily" and summary.get("report"):
            parts.append(f"report {summary['report']}")
        line += "  " + ", ".join(parts) if parts else ""
    console.print(line, highlight=False, markup=False)


def _alert_printer(out: Console) -> Any:
    """Prints each alert of a notification as it fires or resolves, whatever channels are configured."""
    from datetime import datetime

    from convoload.monitor.alerts import Notification
    from convoload.monitor.alerts.render import notice_line

    def print_alerts(notification: Notification) -> None:
        for alert in notification.alerts:
            line = f"{datetime.now():%H:%M:%S} {'alert':<9} {notice_line(alert, repeat=notification.repeat)}"
            out.print(line, highlight=False, markup=False, soft_wrap=True)

    return print_alerts


@app.command()
def monitor(
    config_path: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-f",
            help="Monitor YAML (schedule, thresholds, channels, dashboard; see the README). "
            "Default: watch the bundled real-estate system, which the monitor starts.",
        ),
    ] = None,
    once: Annotated[
        str | None,
        typer.Option(
            "--once",
            help="Run this one job now and exit instead of serving: collect, health, stress, pipeline "
            "or daily (the comprehensive test and the daily report).",
        ),
    ] = None,
) -> None:
    """24/7 monitoring: scheduled synthetic conversations, alerts, Prometheus metrics, dashboard.

    Jobs (defaults): metrics collection every minute (a few synthetic conversations, then success
    rate, response times, errors, transitions, fallbacks, tokens and cost over the metrics window);
    health checks every 5 minutes (agent, catalog API, LLM providers); a mini stress test every 30
    minutes; the pipeline every 2 hours; and at 02:00 the comprehensive test, which writes
    daily_report_YYYYMMDD.json and .html (-2, -3, ... for more the same day). Alert rules fire after
    their `for` duration, are printed here as they fire and resolve, and notify the log
    (logs/alerts.log), e-mail, Slack or a webhook. The dashboard (with /metrics for Prometheus) is served on
    127.0.0.1:8089 by default. Runs until SIGTERM or Ctrl-C (exit 143 / 130): jobs under way end
    then, their runs recorded as interrupted; finished results are never lost.
    """
    from convoload.monitor.config import load_monitor_config
    from convoload.monitor.service import JOBS, Monitor
    from convoload.signals import GracefulStop

    if once is not None and once not in JOBS:
        raise ConfigError("--once", "", f"{once!r} is not one of {', '.join(JOBS)}")
    config = load_monitor_config(config_path)
    if once is not None:
        config.dashboard.enabled = False
        for name in ("collect", "health", "stress", "pipeline"):
            getattr(config.schedule, name).enabled = False
        config.schedule.daily.enabled = False
    # Alerts are printed as they happen; with --once on stderr, so that stdout stays the job's JSON.
    service = Monitor(
        config,
        on_job=None if once else _print_job,
        on_alert=_alert_printer(err_console if once else console),
    )
    if once is not None:
        service.start()
        with GracefulStop(service.stop_request) as stopping:  # a signal ends the job, recorded; 130/143
            try:
                summary = service.run_job(once)
            finally:
                service.shutdown()
        if stopping.exit_code is not None:
            if summary is not None:
                console.print_json(json.dumps(summary, default=str))
            raise typer.Exit(stopping.exit_code)
        if summary is None:
            err_console.print(f"job {once} failed (see {config.logs.dir}/errors.log)")
            raise typer.Exit(1)
        console.print_json(json.dumps(summary, default=str))
        return
    console.print("[bold]convoload monitor[/] starting…")
    service.start()
    if service.watched and service.watched.bundled:
        parts = ", ".join(f"{k} {v}" for k, v in service.watched.bundled.items())
        console.print(f"watching the bundled real-estate system: {parts}")
    console.print(f"results store: {service.store.url}")
    console.print(f"logs: {Path(config.logs.dir).resolve()}")
    if service.dashboard_url:
        console.print(f"dashboard: {service.dashboard_url}  (Prometheus: {service.dashboard_url}/metrics)")
    for job, when in sorted(service.next_runs().items(), key=lambda kv: str(kv[1])):
        console.print(f"  {job:<9} next {when:%Y-%m-%d %H:%M:%S %Z}" if when else f"  {job:<9} paused")
    console.print("Ctrl-C or SIGTERM stops it (a second one at once).")
    service.serve()
    console.print("monitor stopped; every finished result is in the store.")
    if service.exit_code is not None:
        raise typer.Exit(service.exit_code)


@app.command()
def pipeline(
    scenarios_path: Annotated[
        Path | None,
        typer.Option("--scenarios", help="Scenario YAML (default: the four built-in scenarios)."),
    ] = None,
    repeat: Annotated[
        int, typer.Option("--repeat", "-k", min=1, help="Run each scenario k times; reports pass^k.")
    ] = 1,
    grade_floor: Annotated[
        str | None, typer.Option("--grade-floor", help="Exit 1 when the overall grade is below this.")
    ] = None,
    listings: Annotated[int, typer.Option(min=100, help="Real-estate catalog size.")] = 3_000,
    runs_dir: RunsDirOpt = None,
    seed: Annotated[int, typer.Option(help="Seed of the first repetition (then seed+1, ...).")] = 1,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the results JSON instead of tables.")
    ] = False,
) -> None:
    """Run the test pipeline against the bundled real-estate system and grade it.

    Built-in scenarios: basic user journey (2 users x 4 interactions: greeting -> criteria
    -> details -> scheduling), catalog data integration (2 users x 6 interactions; what the
    assistant says about prices, bedrooms and neighbourhoods must match the catalog API),
    high-volume concurrent (5 simultaneous users to a booked visit), and error-handling
    resilience (empty, gibberish, very long, injection and mixed-language input).
    Per scenario and overall: success rate, latency percentiles, per-agent latency,
    integration metrics (coherence, agent coordination, data consistency, user
    experience), health, grade (A+ > 95 % / < 3 s ... D; each integration metric, graded
    on the same bands, caps it) and recommendations. Writes real_test_results.json and
    scenarios.csv in runs/pipeline-<id>/; its runs go to the results store ($CONVOLOAD_DB_URL,
    else the runs folder's database, as for `runs list`). Ctrl-C or SIGTERM ends the scenario under way and
    skips the rest; the results of what ran are written, marked incomplete (exit 130 / 143).
    """
    from contextlib import ExitStack

    from convoload.pipeline.model import builtin_scenarios, load_scenarios
    from convoload.pipeline.runner import checked_store_url, run_pipeline, start_system
    from convoload.report.console import print_pipeline
    from convoload.signals import GracefulStop

    _check_grade_floor(grade_floor)
    checked_store_url(None, runs_dir=runs_dir or Path("runs"))  # a bad URL: before the system starts
    scenarios = load_scenarios(scenarios_path) if scenarios_path else builtin_scenarios()
    with ExitStack() as resources:
        # A signal ends the scenario under way as its time limit would and skips the rest; the
        # results of what ran are written and printed, then the exit code is 130 or 143.
        stopping = resources.enter_context(GracefulStop())
        system = start_system(resources, listings)
        if not json_output:
            console.print(
                f"[bold]convoload pipeline[/]: {len(scenarios)} scenarios x {repeat} against "
                f"{system.chat_url}"
            )
        document = run_pipeline(
            scenarios,
            system,
            runs_dir=runs_dir or Path("runs"),
            repeat=repeat,
            seed=seed,
            on_scenario=None
            if json_output
            else lambda r: console.print(
                f"  {r['name']}: {r['successful']}/{r['conversations']} · grade {r['grade']} · {r['health']}"
            ),
            stop=stopping.request,
        )
        if json_output:
            sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
        else:
            print_pipeline(console, document)
    if stopping.exit_code is not None:
        raise typer.Exit(stopping.exit_code)
    _enforce_grade_floor(document["overall"]["grade"], grade_floor, what="overall grade")


@app.command()
def converse(
    config_path: ConfigOpt = None,
    persona: PersonaOpt = None,
    personas: PersonasOpt = None,
    url: UrlOpt = None,
    target_type: TypeOpt = None,
    preset: PresetOpt = None,
    user_mode: UserModeOpt = None,
    llm: LlmOpt = None,
    replay: ReplayOpt = None,
    seed: SeedOpt = None,
    runs_dir: RunsDirOpt = None,
    max_iterations: MaxIterOpt = None,
) -> None:
    """Hold one conversation and print the transcript live."""
    config = _apply_overrides(
        load_config(config_path),
        personas=personas,
        url=url,
        target_type=target_type,
        preset=preset,
        conversations=1,
        concurrency=1,
        seed=seed,
        runs_dir=runs_dir,
        max_iterations=max_iterations,
        user_mode=user_mode,
        llm=llm,
        replay=replay,
    )
    document = _execute(config, persona=persona, transcript=True, progress=False)
    if document["summary"]["successful_conversations"] != 1:
        raise typer.Exit(1)


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="A run folder, e.g. runs/20261123-101500-ab12cd.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print the aggregate as JSON.")] = False,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Results database to complete [default: $CONVOLOAD_DB_URL or the run's "
            "runs folder's results.sqlite, when there is one]",
        ),
    ] = None,
) -> None:
    """Rebuild a run's aggregate, per-conversation files and HTML report from its journal.

    Works on runs that crashed or were killed: every conversation that finished
    was journaled the moment it finished. The results database, which a run fills
    in batches, gets back the conversations of its last batch, and a run a kill
    left "running" there is closed as interrupted.
    """
    from convoload.report.console import print_summary
    from convoload.report.html import write_html_report
    from convoload.report.rebuild import rebuild_run, restore_store

    document = rebuild_run(run_dir)
    report = write_html_report(run_dir)
    restored = restore_store(run_dir, document, db)
    if json_output:
        sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    else:
        print_summary(console, document)
        console.print(f"rebuilt: {run_dir / 'aggregate.json'} and {report}")
        if restored is not None:
            console.print(f"results store: {restored} conversations put back from the journal")


@app.command()
def locustfile() -> None:
    """Print the path of convoload's locustfile, for `locust -f $(convoload locustfile) ...`.

    Extra locust options it adds: --convoload-config FILE, --persona NAME, --seed N,
    --runs-dir DIR, --max-iterations N. Without a config it starts the demo agent.
    """
    from importlib import resources

    sys.stdout.write(str(resources.files("convoload.load") / "locustfile.py") + "\n")


SignOpt = Annotated[
    str | None,
    typer.Option(
        "--sign",
        help="Sign each callback as target.receiver.signature expects: its fields as JSON or "
        "key=value,... with secret_env (the variable holding the secret) required, e.g. "
        "secret_env=AGENT_SECRET (X-Hub-Signature-256: sha256=...).",
    ),
]


def _sign_args(sign: str | None) -> list[str]:
    """`--sign` for a bundled agent, checked now: a bad spec or an unset secret is a one-line error."""
    if sign is None:
        return []
    from convoload_demo.widget import parse_signature

    _check_spec("--sign", parse_signature, sign)
    return ["--sign", sign]


def _check_spec(flag: str, parse: Any, spec: str) -> None:
    """A bundled server's spec flag (--fault, --sign), parsed now: one line naming the flag, exit 2."""
    try:
        parse(spec)
    except ValidationError as exc:
        raise pydantic_error_to_config_error(flag, exc) from None
    except ValueError as exc:
        raise ConfigError(flag, "", str(exc)) from None


@app.command("serve-faulty")
def serve_faulty(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 = any free port).")] = 8003,
    fault: Annotated[
        list[str] | None,
        typer.Option(
            "--fault",
            help="A fault, as JSON or kind,key=value,... (repeatable). Kinds: status, stall, drop, "
            "malformed, empty, oversized, split (parts=N: the reply cut inside its link); webhook only: "
            "no_callback, duplicate, late, forged. Selectors: "
            "every=N (conversation), turn=K, rate=0.2, times=N, api=chat|webhook. "
            "E.g. status,every=3,turn=2,status=503",
        ),
    ] = None,
    goal_turn: Annotated[int, typer.Option(help="Turn from which replies carry the payment link.")] = 3,
    reply_delay: Annotated[float, typer.Option(help="Seconds before each reply.")] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed of the rate selectors.")] = 0,
    sign: SignOpt = None,
) -> None:
    """Serve a target that breaks on purpose, to see how your config and reports handle faults.

    Endpoints: POST /v1/chat {session_id, message} (synchronous), POST /v1/webhooks/widget (the widget
    preset; the reply comes as a callback), POST /admin/faults (replace the fault plan), GET /admin/stats
    (what was injected, per session and turn), GET /health. See src/convoload_demo/faulty/__init__.py.
    Runs until Ctrl-C or SIGTERM (exit 130 / 143), which is passed on to the server process and waited for.
    """
    _check_port(port)  # before the server process starts
    from convoload.servers import serve_in_foreground
    from convoload_demo.faulty.plan import parse_fault

    for spec in fault or []:
        _check_spec("--fault", parse_fault, spec)
    args = [sys.executable, "-m", "convoload_demo.faulty", "--host", host, "--port", str(port)]
    args += ["--goal-turn", str(goal_turn), "--reply-delay", str(reply_delay), "--seed", str(seed)]
    for spec in fault or []:
        args += ["--fault", spec]
    args += _sign_args(sign)
    raise typer.Exit(serve_in_foreground(args))  # SIGTERM/SIGINT: passed on and waited for; 143/130


@app.command("serve-demo")
def serve_demo(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 = any free port).")] = 8001,
    reply_delay: Annotated[float, typer.Option(help="Reply delay in seconds.")] = 0.3,
    jitter: Annotated[float, typer.Option(help="Random extra delay, up to this many seconds.")] = 0.2,
    split_messages: Annotated[bool, typer.Option(help="Send each reply bubble as its own callback.")] = False,
    sign: SignOpt = None,
) -> None:
    """Serve the demo ticket-booking agent in the foreground, until Ctrl-C or SIGTERM (exit 130 / 143).

    The signal is passed on to the server process, which is waited for: none is left listening.

    Endpoints: POST /v1/webhooks/widget (webhook API), POST /v1/chat (synchronous), GET /health.
    """
    _check_port(port)  # before the server process starts
    from convoload.servers import serve_in_foreground

    args = [
        sys.executable,
        "-m",
        "convoload_demo.tickets",
        "--host",
        host,
        "--port",
        str(port),
        "--reply-delay",
        str(reply_delay),
        "--jitter",
        str(jitter),
    ]
    if split_messages:
        args.append("--split-messages")
    args += _sign_args(sign)
    raise typer.Exit(serve_in_foreground(args))  # SIGTERM/SIGINT: passed on and waited for; 143/130


@app.command()
def identities(
    count: Annotated[int, typer.Option("--count", "-n", min=1, help="How many.")] = 5, seed: SeedOpt = None
) -> None:
    """Print synthetic customer identities (name, phone, e-mail, valid CPF) as JSON lines."""
    from convoload.identity import IdentityFactory

    factory = IdentityFactory(seed)
    for i in range(count):
        sys.stdout.write(json.dumps(factory.identity(i).as_dict(), ensure_ascii=False) + "\n")


@personas_app.command("list")
def personas_list(config_path: ConfigOpt = None) -> None:
    """List the personas of a config (default: the built-in ones)."""
    from rich.table import Table

    from convoload.config import persona_specs
    from convoload.personas import builtin_personas, resolve_personas

    config = load_config(config_path)
    table = Table("name", "language", "playbook", "goal", "source")
    specs = persona_specs(config) if config_path else list(builtin_personas())
    for p in resolve_personas(specs, config.base_dir, config.source):
        table.add_row(p.name, p.language, p.playbook, p.goal or p.description[:60], p.source or "")
    console.print(table)


@personas_app.command("show")
def personas_show(
    name_or_file: Annotated[str, typer.Argument(help="Built-in name or persona file.")],
) -> None:
    """Show one persona as YAML, with the facts found in it."""
    import yaml

    from convoload.personas import resolve_personas

    persona = resolve_personas([name_or_file], Path.cwd(), "argument")[0]
    sys.stdout.write(yaml.safe_dump(persona.model_dump(), allow_unicode=True, sort_keys=False))


@personas_app.command("check")
def personas_check(
    files: Annotated[list[Path], typer.Argument(help="Persona files (.yaml, .yml, .txt).")],
) -> None:
    """Validate persona files; exit 2 naming the file and field of the first problem."""
    from convoload.personas import load_persona_file
    from convoload.users.factory import check_personas

    for path in files:
        persona = load_persona_file(path)
        problems = check_personas([persona])
        if problems:
            source, field, message = problems[0].split(": ", 2)
            raise ConfigError(source, field, message)
        console.print(f"ok  {path}  ({persona.name}, {persona.language}, playbook {persona.playbook})")


@llm_app.command("check")
def llm_check(config_path: ConfigOpt = None, llm: LlmOpt = None) -> None:
    """Show which providers the chain would use, whether their keys are set, and whether they answer.

    Keys are never printed: only the name of the variable and whether it is set. Reachability is
    a GET of the provider's /models endpoint. Exit 1 when no provider is usable.
    """
    from rich.table import Table

    from convoload.llm.probe import probe_providers

    config = apply_llm_flags(load_config(config_path), None, llm, None)
    table = Table("#", "provider", "model", "base URL", "key", "tools", "reachable")
    usable = 0
    for i, result in enumerate(probe_providers(config), start=1):
        usable += result.usable
        table.add_row(
            str(i),
            result.spec.name,
            result.spec.model,
            result.spec.base_url or "(started on demand)",
            result.key_status,
            "native" if result.spec.native_tools else "prompted JSON",
            result.status,
        )
    console.print(table)
    if not usable:
        raise typer.Exit(1)


def main() -> None:
    try:  # typer vendors click from 0.2x on; older releases use click itself
        from typer._click import exceptions as click
    except ImportError:
        from click import exceptions as click

    try:
        code = app(prog_name="convoload", standalone_mode=False)
    except InputError as exc:  # bad input only: the other ConvoloadErrors are faults, not the user's
        sys.stderr.write(f"error: {exc}\n")  # one line, never wrapped
        sys.exit(2)
    except click.NoArgsIsHelpError as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        # A bad flag reads like a bad config field: one line naming it (the usage is one --help away).
        where = f"{exc.ctx.command_path}: " if isinstance(exc, click.UsageError) and exc.ctx else ""
        message = " ".join(exc.format_message().split())
        sys.stderr.write(f"error: {where}{message}\n")
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):  # typer.Abort: click's own, or typer's since it vendors click
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
