"""`convoload rerun` (a run's conversations played again) and `convoload export` (one of them as a
regression test), over `convoload.rerun`."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from convoload.cli.common import (
    PresetOpt,
    TypeOpt,
    UrlOpt,
    check_grade_floor,
    console,
    enforce_grade_floor,
    err_console,
)
from convoload.errors import ConfigError

if TYPE_CHECKING:
    from convoload.load.context import RunContext

RunArg = Annotated[
    str,
    typer.Argument(
        help="A run folder (runs/20261123-101500-ab12cd), or a run id or unique id prefix under --runs-dir "
        "(the monitor's job folders included)."
    ),
]
FindInOpt = Annotated[Path, typer.Option("--runs-dir", help="Where RUN is looked up by id.")]


def rerun(
    run: RunArg,
    failed: Annotated[
        bool, typer.Option("--failed", help="Every conversation that did not reach its goal.")
    ] = False,
    session: Annotated[
        list[str] | None,
        typer.Option("--session", "-s", help="A conversation's session id (or unique prefix); repeatable."),
    ] = None,
    runs_dir: FindInOpt = Path("runs"),
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Where the new run's folder goes [default: beside the original's]."),
    ] = None,
    config_path: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-f",
            help="Play them with this config instead of the run's own (its settings.json); needed for "
            "runs recorded before convoload kept one.",
        ),
    ] = None,
    url: UrlOpt = None,
    target_type: TypeOpt = None,
    preset: PresetOpt = None,
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", "-c", min=1, help="Conversations at once.")
    ] = None,
    replay: Annotated[
        bool,
        typer.Option(
            "--replay/--no-replay",
            help="LLM users: answer from the replay cache while the conversation follows the "
            "original (the default), or write every message live.",
        ),
    ] = True,
    transcript: Annotated[bool, typer.Option(help="Print every message live.")] = False,
    fail_under: Annotated[
        float, typer.Option(min=0, max=100, help="Exit 1 when the goal-reached rate (%) is below this.")
    ] = 0.0,
    grade_floor: Annotated[
        str | None, typer.Option("--grade-floor", help="Exit 1 when the rerun's grade is below this.")
    ] = None,
) -> None:
    """Play a run's conversations again, as a new run: --failed, --session ID..., or all of them.

    Each conversation keeps its persona (as the run played it), identity, user id, seed and user
    mode, against the run's target (its saved settings.json; -f CONFIG or --url to aim elsewhere).
    Scripted users send the same messages while the agent replies the same; fixed users their
    script; LLM users are answered from the replay cache until the agent replies differently, then
    live. Each new record names the session it reruns (rerun_of) and the first turn whose user
    message did not follow the original's (diverged_at); the table at the end shows both.

    Exit codes as for `convoload run`: 1 under --fail-under or --grade-floor, 130 / 143 when
    Ctrl-C or SIGTERM ended it, 2 for bad input (unknown run or session, --failed without failures).
    """
    from convoload.cli.flags import apply_flags
    from convoload.config import Config, Override
    from convoload.rerun import SourceRun, execute_rerun, plan_rerun
    from convoload.signals import GracefulStop

    check_grade_floor(grade_floor)
    source = SourceRun.open(run, runs_dir)
    records = source.select(session or [], failed=failed)
    aim: list[Override] = []
    if url or target_type or preset:
        # The flags' overrides as `run` makes them, to lay over the run's own config.
        aimed = apply_flags(Config(), url=url, target_type=target_type, preset=preset)
        aim = [
            Override("--type" if target_type else "--url", "target.type", aimed.target.type),
            Override("--url", "target.url", url),
            Override("--preset", "target.preset", preset),
        ]
    plan = plan_rerun(
        source, records, config_path=config_path, out=out, concurrency=concurrency, replay=replay, target=aim
    )

    def show(context: "RunContext") -> None:
        console.print(
            f"[bold]convoload[/] rerun [cyan]{context.run_id}[/] of run {source.run_id} · "
            f"{len(records)} conversations · seed {context.seed}"
        )
        if transcript:
            from convoload.report.console import TranscriptPrinter

            TranscriptPrinter(console, context.bus)

    from convoload.report.console import print_summary

    with GracefulStop() as stopping:
        result = execute_rerun(plan, stop=stopping.request, on_start=show)
        done = result.execution
        print_summary(console, done.report.to_document(), done.stats)
        table = Table("session", "persona", "was", "now", "diverged", "rerun", title="Reruns")
        for original, again in result.pairs:
            diverged = "-" if again.diverged_at is None else f"turn {again.diverged_at}"
            was = original.outcome.value if original.outcome else "-"
            now = again.outcome.value if again.outcome else "-"
            table.add_row(original.session_id[:8], original.persona, was, now, diverged, again.session_id[:8])
        console.print(table)
        console.print(f"records: {done.run_dir}  (aggregate.json, journal.jsonl, conversations/)")
        console.print(f"report: {done.html_report}")
        if done.interrupted:
            why = f" by {done.stopped_by}" if done.stopped_by else ""
            err_console.print(f"[yellow]stopped early{why}[/]", highlight=False)
    if stopping.exit_code is not None:
        raise typer.Exit(stopping.exit_code)
    enforce_grade_floor(done.report.grade, grade_floor)
    if 100 * done.report.success_rate < fail_under:
        err_console.print(f"goal-reached rate {done.report.summary.success_rate_pct} is below {fail_under}%")
        raise typer.Exit(1)


def export(
    run: RunArg,
    session: Annotated[
        str, typer.Option("--session", "-s", help="The conversation's session id (or unique prefix).")
    ],
    kind: Annotated[
        str,
        typer.Option(
            "--as",
            help="fixed: a config whose fixed user sends the conversation's user messages "
            "(convoload run -f FILE); pytest: a test file that replays them and asserts the goal.",
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="File to write [default: ./<persona>_<session>.yaml or ./test_<...>.py]."
        ),
    ] = None,
    runs_dir: FindInOpt = Path("runs"),
) -> None:
    """Write one recorded conversation as a regression test: a `fixed` user's config or a pytest file.

    Both send the conversation's user messages, one a turn, to the run's target (from its saved
    settings.json), with its goal, hooks, persona and seed; the pytest file asserts that the goal is
    reached and shows the transcript when it is not. A failure the monitor found becomes a test in
    one command: convoload export RUN --session ID --as pytest -o tests/test_regression.py
    """
    from convoload.rerun import FORMATS, SourceRun, default_path, export_conversation

    if kind not in FORMATS:
        raise ConfigError("--as", "", f"{kind!r} is not one of {', '.join(FORMATS)}")
    source = SourceRun.open(run, runs_dir)
    record = source.record(session)
    path = output if output is not None else default_path(record, kind)
    written = export_conversation(source, record, kind, path)
    for file in written:
        console.print(f"wrote {file}", soft_wrap=True, highlight=False)
    how = f"convoload run -f {path}" if kind == "fixed" else f"pytest -p convoload.testing.patched {path}"
    console.print(f"run it: {how}", soft_wrap=True, highlight=False)
