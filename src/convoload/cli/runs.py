"""`convoload runs`: list, show, compare and export the runs of the results store; `compare` exits 1
on a regression (for CI), against a run of this store, of another one, or of an exported file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from convoload.errors import ConfigError
from convoload.store.results.engine import DB_FILE_NAME, ENV_DB_URL, StoreOrigin, resolve_store_url
from convoload.store.results.stats import RunRow
from convoload.store.results.store import ResultsStore

runs_app = typer.Typer(help="Stored load-test runs: list, show, compare, export.", no_args_is_help=True)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help=f"Results database URL [default: ${ENV_DB_URL}, else <runs-dir>/{DB_FILE_NAME}]"
    ),
]
RunsDirOption = Annotated[
    Path,
    typer.Option("--runs-dir", help="Runs folder whose database is the default, as for `convoload run`."),
]


def db_url(option: str | None, runs_dir: Path = Path("runs")) -> tuple[str, StoreOrigin]:
    """The database `--db` names, else $CONVOLOAD_DB_URL's, else the runs folder's; and where it came from."""
    return resolve_store_url(
        option, StoreOrigin("--db"), runs_dir=runs_dir, default_origin=StoreOrigin("--runs-dir")
    )


def _open(option: str | None, runs_dir: Path) -> ResultsStore:
    # Reading never creates a database: a wrong --db should say so, not show an empty list.
    url, origin = db_url(option, runs_dir)
    return ResultsStore(url, create=False, origin=origin)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f} ms"


def _rate(value: float) -> str:
    return f"{100 * value:.2f}%"


@runs_app.command("list")
def list_runs(
    db: DbOption = None,
    limit: Annotated[int, typer.Option(min=1)] = 20,
    runs_dir: RunsDirOption = Path("runs"),
) -> None:
    """The latest runs, newest first."""
    with _open(db, runs_dir) as store:
        rows = store.list_runs(limit)
    judged = any(r.judge_pass_rate is not None for r in rows)  # the column only when a run has it
    columns = ["run", "started", "status", "conversations", "success", "turn p95", "cost"]
    table = Table(*columns, *(["judge pass"] if judged else []))
    for r in rows:
        cells = [
            r.run_id,
            r.started_at,
            r.status,
            str(r.conversations),
            _rate(r.success_rate),
            _ms(r.turn_p95_ms),
            f"${r.cost_usd:.4f}",
        ]
        if judged:
            cells.append("-" if r.judge_pass_rate is None else _rate(r.judge_pass_rate))
        table.add_row(*cells)
    Console(width=200).print(table)


def _summary(r: RunRow) -> Table:
    table = Table("", "", show_header=False, title=f"run {r.run_id}")
    for name, value in [
        ("status", r.status),
        ("started", r.started_at),
        ("finished", r.finished_at or "-"),
        ("conversations", str(r.conversations)),
        ("successful", f"{r.successful} ({_rate(r.success_rate)})"),
        ("failed", f"{r.failed} ({_rate(r.error_rate)})"),
        ("turn p50", _ms(r.turn_p50_ms)),
        ("turn p95", _ms(r.turn_p95_ms)),
        ("conversation p95", _ms(r.conversation_p95_ms)),
        ("cost", f"${r.cost_usd:.4f} (${r.cost_per_conversation:.6f} per conversation)"),
    ]:
        table.add_row(name, value)
    if r.judge_pass_rate is not None:
        judged = (r.summary or {}).get("judged_conversations")
        of = f" of {judged} judged" if judged is not None else ""
        mean = "-" if r.judge_mean_score is None else f"{r.judge_mean_score:.3f}"
        table.add_row("judge pass rate", f"{_rate(r.judge_pass_rate)}{of} (mean score {mean})")
    return table


@runs_app.command("show")
def show(run: str, db: DbOption = None, runs_dir: RunsDirOption = Path("runs")) -> None:
    """One run: summary (with the judge's pass rate when it was judged), personas, errors and findings
    by hook (RUN may be a unique id prefix)."""
    with _open(db, runs_dir) as store:
        row = store.require_run(run)
        personas = store.personas(row.run_id)
        errors = store.errors(row.run_id)
        hooks = store.finding_counts(row.run_id)
    console = Console(width=200)
    console.print(_summary(row))
    table = Table("persona", "conversations", "success", "turn p95", title="personas")
    for p in personas:
        table.add_row(p.persona, str(p.conversations), _rate(p.success_rate), _ms(p.turn_p95_ms))
    console.print(table)
    table = Table("error", "conversations", "turns", title="errors")
    for kind, (ended, failed) in errors.items():
        table.add_row(kind, str(ended), str(failed))
    console.print(table)
    table = Table("hook", "priority", "findings", title="findings")
    for hook, priority, count in hooks:
        table.add_row(hook, priority, str(count))
    console.print(table)


@runs_app.command("compare")
def compare(
    a: Annotated[
        str,
        typer.Argument(
            metavar="A",
            help="The baseline: a run id, id prefix or `latest` (of --baseline-store, else of this "
            "store), or an exported run file (`runs export`, e.g. the main branch's CI artifact).",
        ),
    ],
    b: Annotated[
        str,
        typer.Argument(
            metavar="B",
            help="The run measured against it: a run id, id prefix or `latest`, or an exported file.",
        ),
    ],
    db: DbOption = None,
    runs_dir: RunsDirOption = Path("runs"),
    baseline_store: Annotated[
        str | None,
        typer.Option(
            "--baseline-store",
            help="The results store A is in, when not this one: a database URL, a database file or "
            "a runs folder.",
        ),
    ] = None,
) -> None:
    """Run B against the baseline A; exit code 1 when any metric regressed.

    Regressions: the success rate down by more than 2 points, the error rate up by more than 2 points,
    turn p50/p95, conversation p95, cost per conversation or per success up by more than 10 %.
    Judged runs also compare the judge's pass rate (a drop of more than 5 points is a regression) and
    mean score. Two capacity runs of the same steps and SLOs: a lower knee is a regression."""
    from convoload.cli.ci import compare_with, load_run, store_location
    from convoload.store.results.engine import StoreOrigin

    here = db_url(db, runs_dir)
    there = (store_location(baseline_store), StoreOrigin("--baseline-store")) if baseline_store else here
    baseline = load_run(a, there, flag="A")
    current = load_run(b, here, flag="B")
    result, knee = compare_with(baseline, current)
    table = Table("metric", result.a.run_id, result.b.run_id, "delta", "", title="B vs A")
    for m in result.metrics:
        verdict = "[red]REGRESSION[/red]" if m.regression else "ok"
        style = "red" if m.regression else None
        table.add_row(m.name, m.shown(m.a), m.shown(m.b), m.delta_text, verdict, style=style)
    console = Console(width=200)
    console.print(table)
    if knee is not None:
        console.print(f"[red]{knee.line}[/red]" if knee.regression else knee.line, highlight=False)
    regressions = len(result.regressions) + (knee is not None and knee.regression)
    if regressions:
        console.print(f"[red]{regressions} regression(s)[/red]")
        raise typer.Exit(1)


@runs_app.command("export")
def export(
    run: Annotated[
        str, typer.Argument(metavar="RUN", help="A run id, id prefix or `latest` (the newest run).")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="The file to write (JSON).")],
    db: DbOption = None,
    runs_dir: RunsDirOption = Path("runs"),
) -> None:
    """Write what `runs compare` needs of a run into one versioned JSON file (for a CI artifact).

    The run's numbers as this store computes them (success and error rate, turn and conversation
    percentiles, cost, the judge's pass rate) and, for a capacity run, its verdict. `runs compare
    FILE RUN` and `run --baseline FILE` read it without the database it came from."""
    from convoload.cli.ci import load_run

    if output.is_dir():
        raise ConfigError("--output", "", f"{output} is a folder: give a file path")
    exported = load_run(run, db_url(db, runs_dir), flag="RUN")
    exported.write(output)
    Console().print(f"run {exported.run.run_id} exported to {output}", highlight=False, soft_wrap=True)
