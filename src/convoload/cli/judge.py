"""`convoload judge`: score finished conversations against a rubric with an LLM judge, and measure
the judge against human labels (`calibrate`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from typer.core import TyperGroup

from convoload.cli.common import ConfigOpt, console
from convoload.config import Config, Override, apply_overrides, load_config
from convoload.errors import ConfigError


class _RunByDefault(TyperGroup):
    """`convoload judge RUN` is `convoload judge run RUN`: a first word that names no command is a run."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["run", *args]
        return super().parse_args(ctx, args)


judge_app = typer.Typer(
    cls=_RunByDefault,
    help="Judge finished conversations against a rubric (scores and reasons per criterion, pass or "
    "fail), with an LLM of its own: `convoload judge RUN` judges a run after the fact from its "
    "journal; `convoload judge calibrate` measures the judge against human labels. Without "
    "configuration the judge is the bundled local provider's deterministic judge (offline, free).",
    no_args_is_help=True,
)

JudgeLlmOpt = Annotated[
    str | None,
    typer.Option(
        "--llm",
        help="PROVIDER/MODEL of the judge, over the config's judge section, e.g. gemini/gemini-2.5-flash, "
        "ollama/qwen2.5:7b, local/judge (bundled, offline).",
    ),
]
ConcurrencyOpt = Annotated[
    int | None, typer.Option("--concurrency", "-c", min=1, max=256, help="Conversations judged at once.")
]
ReplayOpt = Annotated[
    bool | None,
    typer.Option(
        "--replay/--no-replay",
        help="Answer from the record/replay cache when this conversation was judged before with the same "
        "rubric and model [default: judge.replay, on].",
    ),
]


def _config(config_path: Path | None, llm: str | None, concurrency: int | None) -> Config:
    config = load_config(config_path)
    overrides = [Override("--concurrency", "judge.concurrency", concurrency)]
    if llm is not None:
        overrides += [Override("--llm", "judge.llm", llm), Override("--llm", "judge.providers", [])]
    return apply_overrides(config, overrides)


@judge_app.command("run")
def judge_run_command(
    run: Annotated[
        str,
        typer.Argument(metavar="RUN", help="A run folder, or a run id (or unique id prefix) in --runs-dir."),
    ],
    config_path: ConfigOpt = None,
    rubric: Annotated[
        str | None,
        typer.Option(
            "--rubric", help="A shipped rubric (tickets, realestate) or a YAML file, for every persona."
        ),
    ] = None,
    llm: JudgeLlmOpt = None,
    concurrency: ConcurrencyOpt = None,
    replay: ReplayOpt = None,
    runs_dir: Annotated[
        Path | None, typer.Option("--runs-dir", help="Where run folders are (default: the config's, ./runs).")
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Results database holding the run [default: store.url, else $CONVOLOAD_DB_URL, else "
            "the run's runs folder's results.sqlite].",
        ),
    ] = None,
) -> None:
    """Judge every conversation of a finished run, from its journal.

    Writes judgements.jsonl (one verdict per conversation: score and reason per criterion, pass, the
    judge's tokens and cost) and judgement.json (pass rate per criterion and persona, judge cost) into
    the run folder, and prints them. Then the run reads as if it had been judged while it ran: the
    summary goes into aggregate.json (`judgement`, and the judge's cost into the cost per success),
    conversations.csv gains judge_passed and judge_score, report.html its Judge section, each
    conversations/*.json its `judgement`, and the results store (when it has the run, and the store
    is not disabled) the verdicts, with the judge's pass rate for `runs show` and `runs compare`.
    Judging again replaces all of these. The rubric of each persona: --rubric, else judge.personas,
    judge.rubric, the shipped rubric of the persona's domain, or of the config's bundled agent.
    Exit 1 when the judge could judge none of the conversations.
    """
    from convoload.events import EventBus
    from convoload.hooks.base import Hook, HookRunner
    from convoload.hooks.factory import build_hooks
    from convoload.judge.runner import check_rubrics, find_run_dir, judge_run, record_judged_run
    from convoload.judge.setup import JudgeResources, RubricChooser

    config = _config(config_path, llm, concurrency)
    folder = find_run_dir(run, runs_dir or Path(config.run.runs_dir))
    chooser = RubricChooser(config, rubric)
    check_rubrics(folder, chooser)  # bad input before the judge's provider starts
    store = _store(config, db, folder)  # a bad --db too
    bus = EventBus()
    hooks = [h for h in build_hooks(config) if type(h).on_judgement is not Hook.on_judgement]
    if hooks:
        HookRunner(bus, hooks)
    with (
        JudgeResources(config, replay=replay, emit=bus.emit) as resources,
        Progress(TextColumn("judging"), BarColumn(), MofNCompleteColumn(), console=console) as progress,
    ):
        task = progress.add_task("judging", total=None)
        summary = judge_run(
            folder,
            resources.judge,
            chooser,
            concurrency=config.judge.concurrency,
            on_judgement=lambda _: progress.advance(task),
            on_total=lambda total: progress.update(task, total=total),
        )
    updated = record_judged_run(folder, summary, store)
    _print_summary(summary, folder)
    _print_updated(updated)
    if summary.conversations and not summary.judged:
        raise typer.Exit(1)


def _store(config: Config, db: str | None, folder: Path) -> Any:
    """Where the run's results store is (as the run chose it: store.url, the environment, else its
    runs folder's database); None when the config turns the store off and --db names none."""
    from convoload.store.results.engine import StoreOrigin, resolve_store_url

    if db is None and not config.store.enabled:
        return None
    explicit, origin = (
        (db, StoreOrigin("--db"))
        if db is not None
        else (config.store.url, StoreOrigin(config.source, "store.url"))
    )
    return resolve_store_url(
        explicit,
        origin,
        runs_dir=folder.resolve().parent,
        default_origin=StoreOrigin("(runs folder)"),
        check=True,
    )


def _print_updated(updated: Any) -> None:
    if updated.aggregate is not None:
        console.print(
            f"updated: {updated.aggregate.name}, conversations.csv, {updated.html.name}", highlight=False
        )
    console.print(f"conversation files given their judgement: {updated.conversation_files}", highlight=False)
    if updated.store is not None:
        console.print(f"results store: {updated.store_rows} judgements in {updated.store}", highlight=False)


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _print_summary(summary: Any, folder: Path) -> None:
    judges = ", ".join(summary.judges) or "-"
    table = Table(
        "criterion", "judged", "passed", "pass rate", "mean score", title=f"judgement of {summary.run_id}"
    )
    for c in summary.criteria:
        mean = "-" if c.mean_score is None else f"{c.mean_score:.2f}"
        table.add_row(c.id, str(c.judged), str(c.passed), _pct(c.pass_rate), mean)
    console.print(table)
    table = Table("persona", "conversations", "judged", "errors", "passed", "pass rate", "score 0-1")
    for p in summary.personas:
        mean = "-" if p.mean_score is None else f"{p.mean_score:.2f}"
        table.add_row(
            p.name,
            str(p.conversations),
            str(p.judged),
            str(p.judge_errors),
            str(p.passed),
            _pct(p.pass_rate),
            mean,
        )
    console.print(table)
    u = summary.usage
    console.print(
        f"passed {summary.passed} of {summary.judged} judged ({_pct(summary.pass_rate)}); "
        f"judge errors: {summary.judge_errors}; judge: {judges}"
    )
    console.print(
        f"judge cost: ${u.cost_usd:.6f}, {u.total_tokens:,} tokens, {u.llm_calls} calls, "
        f"{u.replayed_calls} replayed, {u.invalid_outputs} invalid answers asked again"
    )
    console.print(f"records: {folder}  (judgements.jsonl, judgement.json)")


@judge_app.command("calibrate")
def calibrate_command(
    labels: Annotated[
        list[str] | None,
        typer.Option(
            "--labels",
            help="A labelled set (JSON Lines) or the name of a shipped rubric whose set to use. Repeatable "
            "[default: every shipped set].",
        ),
    ] = None,
    config_path: ConfigOpt = None,
    llm: JudgeLlmOpt = None,
    concurrency: ConcurrencyOpt = None,
    replay: ReplayOpt = None,
    show: Annotated[
        bool, typer.Option("--disagreements/--no-disagreements", help="List where judge and labels differ.")
    ] = False,
) -> None:
    """Measure the configured judge against human labels: agreement and Cohen's kappa per criterion,
    on the overall pass, and pooled over every criterion.

    Agreement counts pass/fail (a score against the criterion's pass_at); "exact" counts identical
    scores. Kappa is agreement beyond chance: 1 perfect, 0 what chance gives, "-" when undefined
    (judge and labels always gave the same one answer). Works with any model: --llm or judge.llm.
    """
    from convoload.judge.calibrate import agreement, check_labelled, judge_labelled, read_labelled
    from convoload.judge.rubric import RUBRICS, shipped_labels
    from convoload.judge.setup import JudgeResources, RubricChooser

    config = _config(config_path, llm, concurrency)
    sources: list[tuple[str, Any]] = []
    for spec in labels or [name for name in RUBRICS.names() if RUBRICS.get(name).labels is not None]:
        path = Path(spec)
        sources.append((spec, path if path.is_file() else _shipped(spec, shipped_labels)))
    if not sources:
        raise ConfigError("--labels", "", "no labelled set is installed: give --labels PATH")
    items = {name: read_labelled(source) for name, source in sources}
    chooser = RubricChooser(config)
    for group in items.values():
        check_labelled(group, chooser)  # bad input before the judge's provider starts
    with (
        JudgeResources(config, replay=replay) as resources,
        console.status("judging the labelled conversations"),
    ):
        judged = judge_labelled(
            [item for group in items.values() for item in group],
            resources.judge,
            chooser,
            concurrency=config.judge.concurrency,
        )
        label = resources.judge.label
    by_id = {row.item.id: row for row in judged}
    results = [(name, agreement([by_id[i.id] for i in group], label)) for name, group in items.items()]
    if len(results) > 1:
        results.append(("all sets", agreement(judged, label)))
    for name, result in results:
        _print_calibration(name, result, show)


def _shipped(spec: str, shipped_labels: Any) -> Any:
    if "/" in spec or spec.endswith((".jsonl", ".json")):
        raise ConfigError("--labels", "", f"no labelled set file {spec!r}")
    return shipped_labels(spec)


def _kappa(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _print_calibration(name: str, result: Any, show: bool) -> None:
    table = Table(
        "criterion",
        "items",
        "agreement",
        "kappa",
        "exact score",
        title=f"calibration on {name} ({result.judge})",
    )
    for a in result.criteria:
        exact = "-" if a.exact is None else _pct(a.exact)
        table.add_row(a.name, str(a.items), _pct(a.rate), _kappa(a.kappa), exact)
    for a in (result.pooled, result.overall):
        table.add_row(a.name, str(a.items), _pct(a.rate), _kappa(a.kappa), "", style="bold")
    console.print(table)
    u = result.usage
    console.print(
        f"{result.judged} of {result.labelled} conversations judged; "
        f"judge errors: {len(result.judge_errors)}; "
        f"judge cost ${u.cost_usd:.6f}, {u.total_tokens:,} tokens ({u.replayed_calls} replayed)"
    )
    for error in result.judge_errors:
        console.print(f"  judge error: {error}")
    if show:
        for line in result.disagreements:
            console.print(f"  differs: {line}", markup=False)
