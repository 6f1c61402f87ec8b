"""One run through the API, shown live on the terminal and summed up: in this process
(`convoload.api.execute`) or on Locust's master and workers (`run --workers N`)."""

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from convoload.cli.common import console, err_console
from convoload.config import Config

if TYPE_CHECKING:
    from convoload.load.context import RunContext
    from convoload.load.shapes import ProfileShape
    from convoload.model.report import RunReport


def execute(
    config: Config,
    *,
    persona: str | None,
    transcript: bool,
    progress: bool,
    duration_s: float | None = None,
    stress: "ProfileShape | None" = None,
    drain_s: float = 60.0,
    on_report: "Callable[[RunReport], None] | None" = None,
) -> "RunReport":
    """One run through the API (`convoload.api.execute`), shown live and summed up on the terminal.

    The first SIGINT or SIGTERM ends it the way its time limit would (see convoload.signals): the
    records, aggregate, report and summary are written, `on_report` writes what the command adds
    (JUnit, Markdown summary), then the process exits 130 or 143.
    """
    from convoload import api
    from convoload.events import ConversationFinished
    from convoload.report.console import TranscriptPrinter, print_summary
    from convoload.signals import GracefulStop

    bar: Progress | None = None

    def show(context: "RunContext") -> None:
        nonlocal bar
        shape = (
            f"{stress.users} users for {stress.duration_s:g} s ({stress.name})"
            if stress
            else f"{config.run.conversations} conversations, {config.run.concurrency} at a time"
        )
        console.print(f"[bold]convoload[/] run [cyan]{context.run_id}[/] · {shape} · seed {context.seed}")
        if context.bundled is not None:
            parts = ", ".join(f"{k} {v}" for k, v in context.bundled.components.items())
            console.print(f"bundled system {context.bundled.name}: {parts or context.bundled.url}")
        if transcript:
            TranscriptPrinter(console, context.bus)
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

    with GracefulStop() as stopping:  # from here on a signal ends the run with its records complete
        try:
            done = api.execute(
                config,
                persona=persona,
                duration_s=duration_s,
                shape=stress,
                drain_s=drain_s,
                stop=stopping.request,
                on_start=show,
            )
        finally:
            if bar is not None:
                bar.stop()
        print_summary(console, done.report.to_document(), done.stats)
        console.print(f"records: {done.run_dir}  (aggregate.json, journal.jsonl, conversations/)")
        console.print(f"report: {done.html_report}")
        if done.interrupted:
            why = f" by {done.stopped_by}" if done.stopped_by else ""
            err_console.print(
                f"[yellow]stopped early{why}: unfinished conversations are recorded as interrupted[/]",
                highlight=False,
            )
        if on_report is not None:
            on_report(done.report)
    if stopping.exit_code is not None:
        raise typer.Exit(stopping.exit_code)
    return done.report


def execute_on_workers(
    workers: int,
    config_path: Path | None,
    config: Config,
    *,
    persona: str | None,
    duration_s: float | None,
    flags: dict[str, Any],
    on_report: "Callable[[RunReport], None] | None" = None,
) -> "RunReport":
    """`run --workers N`: Locust's master and N workers as processes on loopback; the run's summary.

    SIGINT or SIGTERM is passed on to the master (its workers cut off what is under way, it writes the
    run's records); a second one to every process, then this one exits at once. `on_report` as for
    `execute`, before that exit.
    """
    import subprocess

    from convoload.load.distributed import run_arguments, run_cluster
    from convoload.model.report import RunReport
    from convoload.report.console import print_summary
    from convoload.report.grading import assess
    from convoload.signals import relaying_stop

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
    with relaying_stop(processes) as stopping:
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
        console.print(
            f"records: {result.run_dir}  (journal.jsonl, conversations/, aggregate.json, report.html; "
            "each worker's own copy in worker-<k>/)"
        )
        report = RunReport.from_document(document, run_dir=result.run_dir)
        if on_report is not None:
            on_report(report)
    if stopping.exit_code is not None:
        raise typer.Exit(stopping.exit_code)
    return report
