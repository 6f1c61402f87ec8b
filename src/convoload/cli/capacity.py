"""`convoload capacity`: step load over concurrency until an SLO breaks; the knee, printed and drawn."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from convoload.cli.common import (
    ConfigOpt,
    LlmOpt,
    PersonasOpt,
    PresetOpt,
    RunsDirOpt,
    SeedOpt,
    TypeOpt,
    UrlOpt,
    UserModeOpt,
    console,
    err_console,
)
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
    from convoload.config import Config
    from convoload.knee.run import CapacityRun
    from convoload.load.context import RunContext
    from convoload.model.capacity import CapacityResult, CapacitySettings, StepStats

KNEE_LOCUSTFILE = Path(__file__).resolve().parents[1] / "knee" / "locustfile.py"

_FLAGS = {
    "steps": "--steps",
    "start_users": "--start-users",
    "max_users": "--max-users",
    "step_duration_s": "--step-duration",
    "warm_up_s": "--warm-up",
    "abort_after_s": "--abort-after",
    "slos": "--slo",
}


def capacity(
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
    steps: Annotated[
        str | None,
        typer.Option(
            "--steps",
            help="Concurrent users of each step, growing, e.g. 5,10,20,40,80 "
            "(default: capacity.steps, or --start-users doubling up to --max-users).",
        ),
    ] = None,
    start_users: Annotated[
        int | None, typer.Option("--start-users", help="First step of the doubling series (default 1).")
    ] = None,
    max_users: Annotated[
        int | None,
        typer.Option(
            "--max-users", help="Last step of the doubling series, e.g. 1,2,4,...,32 for 32 (default 32)."
        ),
    ] = None,
    step_duration: Annotated[
        float | None,
        typer.Option(
            "--step-duration", help="Seconds each step is measured, after its warm-up (default 60)."
        ),
    ] = None,
    warm_up: Annotated[
        float | None,
        typer.Option(
            "--warm-up",
            help="Seconds at each step's concurrency before it is measured; conversations started in "
            "them are not counted (default 10).",
        ),
    ] = None,
    slo: Annotated[
        list[str] | None,
        typer.Option(
            "--slo",
            help="An objective every step must meet, METRIC OP NUMBER with OP one of >= <= > <; "
            "repeatable, e.g. --slo goal_rate>=0.85 --slo p95_turn_s<=8 --slo error_rate<=0.05. Metrics: "
            "goal_rate, error_rate (0..1), p50_turn_s, p95_turn_s, p99_turn_s (seconds), "
            "turns_to_goal_p50, turns_to_goal_p95, cost_per_success_usd, tokens_per_success, and with "
            "the judge judge_pass_rate, judge_score (0..1; checked once the run has been judged, on "
            "every step measured: they never stop the run early) (default: capacity.slos).",
        ),
    ] = None,
    abort_after: Annotated[
        float | None,
        typer.Option(
            "--abort-after",
            help="Stop during a step once an SLO is broken over its last this many seconds "
            "(checked from that long into the step; default 30).",
        ),
    ] = None,
    abort: Annotated[
        bool | None,
        typer.Option(
            "--abort/--no-abort",
            help="Stop after the first step that breaks an SLO (default), or run every step.",
        ),
    ] = None,
    drain: Annotated[
        float,
        typer.Option(
            min=0,
            help="Seconds that conversations under way at the end get to finish; the rest are "
            "recorded as interrupted.",
        ),
    ] = 60.0,
    min_users: Annotated[
        int | None,
        typer.Option("--min-users", min=1, help="Exit 1 when the capacity found is below this many users."),
    ] = None,
    agent_max_turns: Annotated[
        int | None,
        typer.Option(
            "--agent-max-turns",
            min=1,
            help="Bundled agent only: the turns it serves at once (the rest queue), a known limit "
            "to find (default: no limit).",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            help="Run on Locust's master and N worker processes on this machine, as `run --workers`: the "
            "master's shape steps the whole cluster, its tally reads each conversation's record as it "
            "arrives. The target and personas must come from -f (a bundled agent in it starts once per "
            "worker, so its --agent-max-turns limit counts per worker).",
        ),
    ] = None,
    judge: Annotated[
        bool,
        typer.Option(
            "--judge",
            help="Judge the conversations once the run has ended (as judge.enabled): each step gets the "
            "judge's pass rate and scores of the conversations that started in it, and SLOs on the "
            "judge can be checked (with --workers, the master judges).",
        ),
    ] = False,
    personas: PersonasOpt = None,
    user_mode: UserModeOpt = None,
    llm: LlmOpt = None,
    seed: SeedOpt = None,
    runs_dir: RunsDirOpt = None,
    listings: Annotated[int, typer.Option(help="Real-estate catalog size (at least 100).")] = 10_000,
    junit_xml: JunitXmlOpt = None,
    summary_md: SummaryMdOpt = None,
    baseline: BaselineOpt = None,
    baseline_store: BaselineStoreOpt = None,
) -> None:
    """Find the knee: the highest concurrency at which the agent still meets every SLO.

    Users hold conversations back to back, as in `convoload stress`, at each step's concurrency
    in turn: --warm-up seconds, then --step-duration seconds measured. Each conversation counts
    in the step it started in: goal rate, turns to goal, turn latency p50/p95/p99, error rate
    and errors by kind, tokens and cost per successful conversation. A step passes when every
    --slo holds over it. The run stops after the first step that breaks one (during it, once
    broken over --abort-after seconds), unless --no-abort.

    With the judge (--judge, or judge.enabled in the config) the run's conversations are judged
    once it has ended; each step shows the judge's pass rate, and judge_pass_rate / judge_score
    SLOs are checked over every step measured (never during the run, so they never stop it
    early). Cost per success counts the simulated users, the agent's reported cost and the judge.

    Prints a table of the steps and the verdict (the highest concurrency that met every SLO, the
    first that broke one and which); writes capacity.json and capacity.html (the chart, the
    steps, links to failed transcripts) next to the run's usual records, and the verdict into
    the results store (`convoload runs compare A B` says whether the knee moved). Ctrl-C or
    SIGTERM ends it at once, as for `convoload stress` (exit 130 / 143), with the steps so far.

    For CI: --junit-xml writes a test case per step with its SLO verdicts (steps not run skipped,
    --min-users as a case); --summary-md (also $GITHUB_STEP_SUMMARY when set) the verdict, the
    steps and the worst conversations; with --baseline, whether the knee moved.
    """
    from convoload.bundled import BUNDLED, agent_names
    from convoload.knee.plan import resolve_plan
    from convoload.knee.run import CAPACITY_PAGE, CapacityRun
    from convoload.model.capacity import parse_steps

    if agent not in agent_names():
        raise ConfigError("--agent", "", f"{agent!r} is not one of {', '.join(agent_names())}")
    bundled = config_path is None and url is None
    extra = [Override("--agent", "target.demo.agent", agent if bundled else None)]
    if bundled:
        extra += demo_option_flags(agent, {"--listings": listings})
    if agent_max_turns is not None:
        if not bundled or "max_concurrent_turns" not in BUNDLED.get(agent).options.model_fields:
            raise ConfigError(
                "--agent-max-turns", "", f"sets a bundled agent's limit ({agent} has none here)"
            )
        extra.append(Override("--agent-max-turns", "target.demo.max_concurrent_turns", agent_max_turns))
    if judge:
        extra.append(Override("--judge", "judge.enabled", True))
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
        extra=extra,
    )
    try:
        step_list = parse_steps(steps) if steps is not None else None
    except ValueError as exc:
        raise ConfigError("--steps", "", str(exc)) from None
    plan = resolve_plan(
        config,
        steps=step_list,
        start_users=start_users,
        max_users=max_users,
        step_duration_s=step_duration,
        warm_up_s=warm_up,
        abort_after_s=abort_after,
        abort=abort,
        slos=slo or None,
        flags=_FLAGS,
    )
    from convoload.cli.ci import CiOutputs

    outputs = CiOutputs.prepare(junit_xml, summary_md, baseline, baseline_store, config)
    if workers is None:
        result, run_dir, exit_code = _run(config, CapacityRun(plan.settings()), drain)
    else:
        if config_path is None or any(v is not None for v in (url, target_type, preset, personas)):
            raise ConfigError(
                "--workers", "", "put the target and personas in the -f config file (workers read only it)"
            )
        check_workers(config, workers)
        flags = {"user_mode": user_mode, "llm": llm}
        result, run_dir, exit_code = _run_on_workers(
            workers, config_path, config, plan.settings(), drain, flags
        )
    print_capacity(result)
    console.print(f"records: {run_dir}  (capacity.json, {CAPACITY_PAGE}, report.html, journal.jsonl)")
    knee = result.verdict.knee_users
    gates = []
    if min_users is not None:
        from convoload.report.junit import Gate

        held = knee is not None and knee >= min_users
        gates.append(Gate("min users", held, f"capacity {knee or 0} users (floor {min_users})"))
    outputs.capacity(result, run_dir, config, gates=gates)
    if exit_code is not None:
        raise typer.Exit(exit_code)
    if min_users is not None and (knee is None or knee < min_users):
        err_console.print(f"capacity {knee or 0} users is below --min-users {min_users}")
        raise typer.Exit(1)


def _run(config: "Config", run: "CapacityRun", drain_s: float) -> "tuple[CapacityResult, Path, int | None]":
    """The run through the API, shown live; (result, run folder, exit code of a signal or None)."""
    from convoload import api
    from convoload.signals import GracefulStop

    def show(context: "RunContext") -> None:
        run.attach(context)
        steps = ", ".join(map(str, run.settings.steps))
        console.print(
            f"[bold]convoload[/] capacity [cyan]{context.run_id}[/] · steps {steps} users · "
            f"{run.settings.warm_up_s:g} s warm-up + {run.settings.step_duration_s:g} s each · "
            f"SLOs {', '.join(s.text for s in run.settings.slos)} · seed {context.seed}"
        )
        if context.bundled is not None:
            parts = ", ".join(f"{k} {v}" for k, v in context.bundled.components.items())
            console.print(f"bundled system {context.bundled.name}: {parts or context.bundled.url}")

    with GracefulStop() as stopping:
        done = api.execute(config, shape=run.shape, drain_s=drain_s, stop=stopping.request, on_start=show)
        result = run.finish(done.report.run_id or "", done.run_dir, done.stopped_by)
    return result, done.run_dir, stopping.exit_code


def _run_on_workers(
    workers: int,
    config_path: "Path",
    config: "Config",
    settings: "CapacitySettings",
    drain_s: float,
    flags: dict[str, str | None],
) -> "tuple[CapacityResult, Path, int | None]":
    """`capacity --workers N`: Locust's master (the capacity shape, see knee.distributed) and N workers."""
    import math
    import subprocess

    from convoload.knee.distributed import PLAN_ENV, ClusterPlan
    from convoload.load.distributed import run_arguments, run_cluster
    from convoload.load.run_spec import run_store_url
    from convoload.model.capacity import CAPACITY_NAME, CapacityResult
    from convoload.signals import relaying_stop

    options, _ = run_arguments(
        config=str(config_path.resolve()),
        seed=config.run.seed,
        max_iterations=config.run.max_iterations,
        **flags,  # --user-mode, --llm as given: the rest comes from the config file
    )
    where = run_store_url(config)
    plan = ClusterPlan(
        settings=settings, store_url=where[0] if where is not None else None, judge=config.judge.enabled
    )
    console.print(
        f"[bold]convoload[/] capacity on {workers} Locust workers · steps "
        f"{', '.join(map(str, settings.steps))} users · SLOs {', '.join(s.text for s in settings.slos)}"
    )
    processes: list[subprocess.Popen[bytes]] = []
    with relaying_stop(processes) as stopping:
        done = run_cluster(
            workers,
            options,
            ["--stop-timeout", str(math.ceil(drain_s)), "--exit-code-on-error", "0"],
            runs_dir=config.run.runs_dir,
            stop=stopping.request,
            started=processes,
            env={PLAN_ENV: plan.model_dump_json()},
            locustfile=KNEE_LOCUSTFILE,
        )
    written = done.run_dir / CAPACITY_NAME
    if not written.is_file():
        err_console.print(f"the distributed run failed (exit {done.exit_code}); logs in {done.run_dir}")
        raise typer.Exit(stopping.exit_code or done.exit_code or 1)
    return CapacityResult.from_json(written.read_text(encoding="utf-8")), done.run_dir, stopping.exit_code


def print_capacity(result: "CapacityResult") -> None:
    """The steps as a table, then the verdict line."""

    def pct(value: float | None) -> str:
        return "–" if value is None else f"{100 * value:.1f}%"

    def sec(value: float | None) -> str:
        return "–" if value is None else f"{value:.2f}"

    def num(value: float | None) -> str:
        return "–" if value is None else f"{value:g}"

    table = Table(title="capacity steps", title_justify="left")
    judged = any(step.judge is not None for step in result.steps)
    columns = ["users", "conv.", "goal", "to goal", "turn s p50/95/99", "errors", "$/goal"]
    for column in [*columns, *(["judge"] if judged else []), "SLOs"]:
        table.add_column(column, overflow="fold")
    for step in result.steps:
        errors = pct(step.error_rate)
        if step.errors_by_kind:
            errors += " " + ", ".join(f"{k} {v}" for k, v in step.errors_by_kind.items())
        if step.passed:
            verdict = "[green]met[/]"
        else:
            verdict = "[red]broke " + ", ".join(c.slo.text for c in step.broken) + "[/]"
        table.add_row(
            f"{step.users}{' cut' if step.cut_short else ''}",
            f"{step.conversations_started}/{step.conversations_finished}",
            pct(step.goal_rate),
            f"{num(step.turns_to_goal_p50)}/{num(step.turns_to_goal_p95)}",
            f"{sec(step.p50_turn_s)}/{sec(step.p95_turn_s)}/{sec(step.p99_turn_s)}",
            errors,
            "–" if step.cost_per_success_usd is None else f"{step.cost_per_success_usd:.6f}",
            *([_judge_cell(step)] if judged else []),
            verdict,
        )
    console.print(table)
    if result.stopped_early:
        console.print(f"stopped early: {result.stopped_early}", highlight=False)
    style = "green" if result.verdict.broke_users is None else "yellow"
    console.print(f"[bold {style}]{result.verdict.line}[/]", highlight=False)


def _judge_cell(step: "StepStats") -> str:
    """The judge's pass rate over the step, and how many it judged: "87.5% of 8"."""
    judge = step.judge
    if judge is None or judge.pass_rate is None:
        return "–"
    return f"{100 * judge.pass_rate:.1f}% of {judge.judged}"
