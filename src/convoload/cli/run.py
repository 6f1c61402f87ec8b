"""The commands that run conversations: `run`, `converse`, `demo` and `stress`, over `convoload.api`."""

from typing import TYPE_CHECKING, Annotated

import typer

from convoload.cli.ci import CiOutputs
from convoload.cli.common import (
    ConfigOpt,
    LlmOpt,
    MaxIterOpt,
    PersonaOpt,
    PersonasOpt,
    PresetOpt,
    RampUpOpt,
    ReplayOpt,
    RunsDirOpt,
    SeedOpt,
    TypeOpt,
    UrlOpt,
    UserModeOpt,
    check_grade_floor,
    enforce_grade_floor,
    err_console,
)
from convoload.cli.execute import execute, execute_on_workers
from convoload.cli.flags import (
    BaselineOpt,
    BaselineStoreOpt,
    JunitXmlOpt,
    SummaryMdOpt,
    apply_flags,
    check_workers,
    demo_option_flags,
)
from convoload.config import Override, load_config
from convoload.errors import ConfigError

if TYPE_CHECKING:
    from convoload.model.report import RunReport
    from convoload.report.junit import Gate


def demo(
    agent: Annotated[
        str,
        typer.Option(
            "--agent",
            help="all (default: every installed bundled agent, one after the other), or one of them: "
            "realestate (catalog API + multi-agent assistant), tickets (ticket seller answering through "
            "webhooks), or one a pack registers (convoload.bundled).",
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
    from convoload.bundled import BUNDLED, agent_names
    from convoload.textutil import fold

    installed = agent_names()
    if agent != "all" and agent not in installed:
        raise ConfigError("--agent", "", f"{agent!r} is not one of {', '.join(['all', *installed])}")
    agents = installed if agent == "all" else [agent]
    if persona is not None:
        agents = [a for a in agents if fold(persona) in BUNDLED.get(a).personas] or agents
    configs = [  # every flag checked before the first agent runs
        apply_flags(
            load_config(None),
            conversations=conversations if conversations is not None else len(BUNDLED.get(name).personas),
            concurrency=concurrency,
            seed=seed,
            runs_dir=runs_dir,
            user_mode=user_mode,
            llm=llm,
            replay=replay,
            extra=[
                Override("--agent", "run.persona_assignment", "round_robin"),
                Override("--agent", "target.demo.agent", name),
                *demo_option_flags(name, {"--reply-delay": reply_delay, "--listings": listings}),
            ],
        )
        for name in agents
    ]
    failed = False
    for config in configs:
        summary = execute(config, persona=persona, transcript=not quiet, progress=quiet).summary
        failed = failed or summary.successful_conversations != summary.total_conversations
    if failed:
        raise typer.Exit(1)


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
            "webhook receiver and plays its share of the conversations (the same ones, with the same "
            "seed, as one process), keeping a copy of its records (runs/<id>/worker-<k>/); the master "
            "writes the whole run's records as one process does (runs/<id>/, results store). The "
            "target and personas must come from -f.",
        ),
    ] = None,
    junit_xml: JunitXmlOpt = None,
    summary_md: SummaryMdOpt = None,
    baseline: BaselineOpt = None,
    baseline_store: BaselineStoreOpt = None,
) -> None:
    """Run N conversations with concurrency C against the configured target.

    Shows a progress bar and, at the end, the summary: goal-reached rate,
    iterations, exact latency percentiles per request type and persona, errors by
    kind, cost. Records go to runs/<run-id>/.

    Ctrl-C or SIGTERM ends the run as -t does: conversations under way are recorded
    as interrupted, the aggregate, report and summary are written (the run is marked
    incomplete), exit code 130 / 143. A second signal exits at once.

    For CI: --junit-xml (a test case per conversation, plus --grade-floor and --fail-under
    as cases), --summary-md (also to $GITHUB_STEP_SUMMARY when set), --baseline to compare.
    """
    config = apply_flags(
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
    check_grade_floor(grade_floor)
    outputs = CiOutputs.prepare(junit_xml, summary_md, baseline, baseline_store, config)

    def write_outputs(report: "RunReport") -> None:  # also when a signal ends the run
        gates = _gates(report.grade, grade_floor, report.success_rate, fail_under)
        outputs.run(report, config, gates=gates)

    if workers is not None:
        if any(v is not None for v in (url, target_type, preset, personas)) or transcript:
            raise ConfigError(
                "--workers", "", "put the target and personas in the -f config file (workers read only it)"
            )
        check_workers(config, workers)
        document = execute_on_workers(
            workers,
            config_path,
            config,
            persona=persona,
            duration_s=duration,
            flags={"user_mode": user_mode, "llm": llm, "replay": bool(replay)},
            on_report=write_outputs,
        )
    else:
        document = execute(
            config,
            persona=persona,
            transcript=transcript,
            progress=not transcript,
            duration_s=duration,
            on_report=write_outputs,
        )
    enforce_grade_floor(document.grade, grade_floor)
    if 100 * document.success_rate < fail_under:
        err_console.print(f"goal-reached rate {document.summary.success_rate_pct} is below {fail_under}%")
        raise typer.Exit(1)


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
    junit_xml: JunitXmlOpt = None,
    summary_md: SummaryMdOpt = None,
    baseline: BaselineOpt = None,
    baseline_store: BaselineStoreOpt = None,
) -> None:
    """Stress test: virtual users hold conversations back to back for a duration, then the same report.

    Every user starts a new conversation (new persona and identity) as soon as the last one
    ends. When the time is up no new conversation starts and those under way get --drain
    seconds to finish. The summary adds the grade, health and recommendations; records and
    the results store are written as for `convoload run`. Ctrl-C or SIGTERM ends it at once,
    without the drain, as for `convoload run` (exit 130 / 143). --junit-xml, --summary-md and
    --baseline as for `convoload run`.
    """
    from convoload.bundled import agent_names
    from convoload.load.shapes import profile_shape

    try:
        shape = profile_shape(profile)
    except ValueError as exc:
        raise ConfigError("--profile", "", str(exc)) from None
    check_grade_floor(grade_floor)
    if agent not in agent_names():
        raise ConfigError("--agent", "", f"{agent!r} is not one of {', '.join(agent_names())}")
    bundled = config_path is None and url is None
    config = apply_flags(
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
            *(demo_option_flags(agent, {"--listings": listings}) if bundled else []),
        ],
    )
    outputs = CiOutputs.prepare(junit_xml, summary_md, baseline, baseline_store, config)
    plan = shape(users, duration, ramp_up_s=config.run.ramp_up_s)
    report = execute(
        config,
        persona=None,
        transcript=False,
        progress=True,
        stress=plan,
        drain_s=drain,
        on_report=lambda done: outputs.run(
            done, config, gates=_gates(done.grade, grade_floor), title="convoload stress"
        ),
    )
    enforce_grade_floor(report.grade, grade_floor)


def _gates(
    grade: str | None, floor: str | None, success_rate: float = 0.0, fail_under: float = 0.0
) -> "list[Gate]":
    """--grade-floor and --fail-under as JUnit cases, when given."""
    from convoload.report.grading import at_least
    from convoload.report.junit import Gate

    gates = []
    if floor is not None:
        held = grade is not None and at_least(grade, floor)
        gates.append(Gate("grade floor", held, f"grade {grade or '-'} (floor {floor})"))
    if fail_under:
        rate = 100 * success_rate
        gates.append(
            Gate("fail under", rate >= fail_under, f"goal-reached rate {rate:.2f}% (floor {fail_under:g}%)")
        )
    return gates


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
    config = apply_flags(
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
    report = execute(config, persona=persona, transcript=True, progress=False)
    if report.summary.successful_conversations != 1:
        raise typer.Exit(1)
