"""`convoload pipeline`: a scenario suite run against its system and graded."""

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from convoload.cli.common import (
    RunsDirOpt,
    check_grade_floor,
    console,
    enforce_grade_floor,
    err_console,
)
from convoload.cli.flags import JunitXmlOpt, SummaryMdOpt
from convoload.errors import ConfigError

if TYPE_CHECKING:
    from convoload.model.pipeline import PipelineResults


def pipeline(
    suite_spec: Annotated[
        str,
        typer.Option(
            "--suite",
            help="Scenario suite: an installed one's name (convoload.scenarios entry points) or module:attr.",
        ),
    ] = "realestate",
    scenarios_path: Annotated[
        Path | None,
        typer.Option("--scenarios", help="Scenario YAML run instead of the suite's own scenarios."),
    ] = None,
    repeat: Annotated[
        int, typer.Option("--repeat", "-k", min=1, help="Run each scenario k times; reports pass^k.")
    ] = 1,
    grade_floor: Annotated[
        str | None, typer.Option("--grade-floor", help="Exit 1 when the overall grade is below this.")
    ] = None,
    listings: Annotated[
        int | None,
        typer.Option(min=100, help="Catalog size of the suite's bundled system (realestate suite: 3000)."),
    ] = None,
    runs_dir: RunsDirOpt = None,
    seed: Annotated[int, typer.Option(help="Seed of the first repetition (then seed+1, ...).")] = 1,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the results JSON instead of tables.")
    ] = False,
    judge: Annotated[
        bool | None,
        typer.Option(
            "--judge/--no-judge",
            help="Judge each scenario's conversations with the conversation judge (judge settings from "
            "--config's `judge` section, default the offline local judge): adds the `judge` metric and "
            "lets the judge's criteria weigh on coherence and user experience. Default: on for a suite "
            "that names its rubric (realestate), off otherwise.",
        ),
    ] = None,
    config_path: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-f",
            help="A convoload config whose `judge` section (llm, providers, rubric, concurrency) "
            "judges the scenarios; `judge.enabled: true` in it turns judging on for any suite.",
        ),
    ] = None,
    junit_xml: JunitXmlOpt = None,
    summary_md: SummaryMdOpt = None,
    baseline: Annotated[
        Path | None,
        typer.Option(
            "--baseline",
            help="Compare each scenario in the summary with the same scenario of this earlier pipeline "
            "(its folder or real_test_results.json): grade, success rate, turn p50/p95, error rate, with "
            "the thresholds of `runs compare`. Alone it never changes the exit code: see "
            "--fail-on-regression.",
        ),
    ] = None,
    fail_on_regression: Annotated[
        bool,
        typer.Option(
            "--fail-on-regression",
            help="Exit 1 when a scenario regressed against --baseline (the regressions the summary "
            "counts): a lower grade, the success rate down or the error rate up by more than 2 points, "
            "turn p50 or p95 up by more than 10 %. A scenario the baseline did not run is no regression.",
        ),
    ] = False,
) -> None:
    """Run a scenario suite against its system and grade it (default: the realestate suite).

    A suite (installed by a pack, or module:attr) brings scenarios, the system they run against
    (a bundled system, started for the pipeline, or a target of your own) and its domain checks.
    The realestate suite runs against the bundled real-estate system: basic user journey (2 users
    x 4 interactions: greeting -> criteria -> details -> scheduling), catalog data integration (2
    users x 6 interactions; what the assistant says about prices, bedrooms and neighbourhoods must
    match the catalog API), high-volume concurrent (5 simultaneous users to a booked visit), and
    error-handling resilience (empty, gibberish, very long, injection and mixed-language input).
    --scenarios runs your own scenarios against the suite's system, with its checks.
    The conversation judge (--judge; on by default for a suite that names its rubric, such as
    realestate, whose booking scenario it judges; --no-judge turns it off) scores every scenario's
    conversations (scenarios with `judge: false` excepted; one naming `judge: {rubric: ...}` is
    judged in any case): a `judge` metric (the judged pass rate), coherence and user experience
    capped by the judge's criteria about the goal and facts and about tone and language, and a
    recommendation per failed criterion with the judge's most common reason.
    Per scenario and overall: success rate, latency percentiles, per-agent latency,
    integration metrics (coherence, agent coordination, the suite's checks such as data
    consistency, user experience), health, grade (A+ > 95 % / < 3 s ... D; each integration
    metric, graded on the same bands, caps it) and recommendations. Writes real_test_results.json and
    scenarios.csv in runs/pipeline-<id>/; its runs go to the results store ($CONVOLOAD_DB_URL,
    else the runs folder's database, as for `runs list`). Ctrl-C or SIGTERM ends the scenario under way and
    skips the rest; the results of what ran are written, marked incomplete (exit 130 / 143).
    --junit-xml writes a test suite per scenario (a case per conversation, judged by the scenario's
    own success rule and checks; a case per domain check; the grade against --grade-floor);
    --summary-md (also $GITHUB_STEP_SUMMARY when set) the grades and the worst conversations.
    --baseline compares each scenario with an earlier pipeline's (its folder or real_test_results.json,
    e.g. the main branch's CI artifact) in the summary; with --fail-on-regression a regression exits 1,
    as `runs compare` does for runs (the results and reports are written first).
    """
    from contextlib import ExitStack

    from convoload.cli.ci import CiOutputs, load_pipeline
    from convoload.config import Config, load_config
    from convoload.pipeline.model import load_scenarios, resolve_suite
    from convoload.pipeline.runner import checked_store_url, run_pipeline, start_suite_system, succeeded
    from convoload.report.console import print_pipeline
    from convoload.signals import GracefulStop

    check_grade_floor(grade_floor)
    outputs = CiOutputs.prepare(junit_xml, summary_md)
    if fail_on_regression and baseline is None:
        raise ConfigError("--fail-on-regression", "", "gates on the comparison: give --baseline too")
    before = load_pipeline(str(baseline)) if baseline is not None else None
    suite = resolve_suite(suite_spec)
    loaded = load_config(config_path) if config_path is not None else Config()
    if judge is None:  # the config says, else the suite: one that names its rubric is judged
        judge = loaded.judge.enabled or suite.rubric is not None
    judge_config = loaded if judge else None
    if listings is not None and suite.system is None:
        raise ConfigError("--listings", "", f"suite {suite.name!r} starts no bundled system")
    checked_store_url(None, runs_dir=runs_dir or Path("runs"))  # a bad URL: before the system starts
    if scenarios_path:
        suite = suite.with_scenarios(load_scenarios(scenarios_path, suite=suite))
    with ExitStack() as resources:
        # A signal ends the scenario under way as its time limit would and skips the rest; the
        # results of what ran are written and printed, then the exit code is 130 or 143.
        stopping = resources.enter_context(GracefulStop())
        options = {"listings": listings} if listings is not None else {}
        system = start_suite_system(suite, resources, options=options)
        if not json_output:
            console.print(
                f"[bold]convoload pipeline[/]: {len(suite.scenarios)} scenarios x {repeat} against "
                f"{system.target.get('url') or system.url}"
            )
        results = run_pipeline(
            suite,
            system,
            runs_dir=runs_dir or Path("runs"),
            repeat=repeat,
            seed=seed,
            on_scenario=None
            if json_output
            else lambda r: console.print(
                f"  {r.name}: {r.successful}/{r.conversations} · grade {r.grade} · {r.health}"
            ),
            stop=stopping.request,
            judge_config=judge_config,
        )
        if json_output:
            # The results file's document, and the folder it is in (and the runs' and the CSV).
            document = {**results.to_document(), "folder": str(results.folder)}
            sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
        else:
            print_pipeline(console, results)
        scenarios = {scenario.name: scenario for scenario in suite.scenarios}
        outputs.pipeline(
            results,
            lambda name, record: succeeded(scenarios[name], record),
            grade_floor=grade_floor,
            quiet=json_output,
            baseline=before,
        )
    if stopping.exit_code is not None:
        raise typer.Exit(stopping.exit_code)
    regressed = fail_on_regression and before is not None and _regressed(before, results, quiet=json_output)
    enforce_grade_floor(results.overall.grade, grade_floor, what="overall grade")
    if regressed:
        raise typer.Exit(1)


def _regressed(baseline: "PipelineResults", results: "PipelineResults", *, quiet: bool) -> bool:
    """Whether a scenario regressed against the baseline; says which and how (to stderr under --json)."""
    from convoload.report.pipeline_compare import compare_pipelines, regression_count

    changes = compare_pipelines(baseline, results)
    count = regression_count(changes)
    if not count:
        if not quiet:
            console.print(f"no regression against the baseline {baseline.pipeline_id}", highlight=False)
        return False
    for change in changes:
        for line in change.regressions:
            err_console.print(f"REGRESSION {change.name}: {line}", highlight=False, soft_wrap=True)
    err_console.print(f"{count} regression(s) against the baseline {baseline.pipeline_id}", highlight=False)
    return True
