"""What the commands that run conversations share for CI: --junit-xml, --summary-md (and
$GITHUB_STEP_SUMMARY), --baseline with --baseline-store; and finding a run to compare, in a results
store or in an exported run file (`runs compare`, `runs export`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from convoload.cli.common import console
from convoload.errors import ConfigError

if TYPE_CHECKING:  # the store's modules load SQLAlchemy: imported when a command needs them
    from convoload.config import Config
    from convoload.model import ConversationRecord
    from convoload.model.capacity import CapacityResult
    from convoload.model.pipeline import PipelineResults
    from convoload.model.report import RunReport
    from convoload.report.junit import Gate
    from convoload.store.results.compare import Comparison, KneeMove
    from convoload.store.results.engine import StoreOrigin
    from convoload.store.results.export import ExportedRun

LATEST = "latest"  # names the newest run of a store, where a run id is expected


def store_location(value: str) -> str:
    """A results store given as a URL, a database file, or a runs folder (its database)."""
    from convoload.store.results.engine import default_store_url

    if "://" in value:
        return value
    path = Path(value)
    if path.is_dir():
        return default_store_url(path)
    return f"sqlite:///{path.absolute()}"


def load_run(spec: str, store: tuple[str, StoreOrigin] | None, *, flag: str) -> ExportedRun:
    """The run `spec` names: an exported run file (a path ending in .json, or an existing file), else a
    run id, id prefix or `latest` in `store`; its numbers and, for a capacity run, its verdict."""
    from convoload.knee.store import stored_capacity
    from convoload.store.results.export import ExportedRun, read_exported_run
    from convoload.store.results.store import ResultsStore

    path = Path(spec)
    if path.suffix.lower() == ".json" or path.is_file():
        return read_exported_run(path)
    if store is None:
        raise ConfigError(flag, "", f"{spec!r}: no results store to find the run in (the store is off)")
    url, origin = store
    with ResultsStore(url, create=False, origin=origin) as opened:
        run_id = spec
        if spec == LATEST:
            newest = opened.list_runs(1)
            if not newest:
                raise origin.error("holds no run")
            run_id = newest[0].run_id
        row = opened.require_run(run_id)
        capacity = stored_capacity(opened, row.run_id)
    return ExportedRun.of(row, capacity)


def compare_with(baseline: ExportedRun, current: ExportedRun) -> tuple[Comparison, KneeMove | None]:
    """`current` against `baseline`, as `runs compare` judges it (thresholds in store.results.compare)."""
    from convoload.store.results.compare import compare_runs, knee_move

    comparison = compare_runs(baseline.run, current.run)
    knee = None
    if baseline.capacity is not None and current.capacity is not None:
        knee = knee_move(baseline.capacity, current.capacity)
    return comparison, knee


def _checked_output(path: Path | None, flag: str) -> Path | None:
    if path is None:
        return None
    if path.is_dir():
        raise ConfigError(flag, "", f"{path} is a folder: give a file path")
    if path.parent.exists() and not path.parent.is_dir():
        raise ConfigError(flag, "", f"{path.parent} is not a folder")
    return path


@dataclass(slots=True)
class CiOutputs:
    """The CI outputs a command was asked for, checked before it runs (a baseline that cannot be found
    fails before the run, not after it)."""

    junit: Path | None = None
    summary: Path | None = None
    baseline: ExportedRun | None = None

    @classmethod
    def prepare(
        cls,
        junit: Path | None,
        summary: Path | None,
        baseline: str | None = None,
        baseline_store: str | None = None,
        config: Config | None = None,
    ) -> CiOutputs:
        outputs = cls(_checked_output(junit, "--junit-xml"), _checked_output(summary, "--summary-md"))
        if baseline_store is not None and baseline is None:
            raise ConfigError("--baseline-store", "", "names where --baseline is: give --baseline too")
        if baseline is not None:
            if config is not None and not config.store.enabled:
                # This run's numbers for the comparison come from its results store.
                raise ConfigError(
                    "--baseline", "", "compares through the results store: store.enabled is false"
                )
            outputs.baseline = load_run(baseline, _baseline_store(baseline_store, config), flag="--baseline")
        return outputs

    def comparison(self, config: Config, run_id: str | None) -> tuple[Comparison | None, KneeMove | None]:
        """This run (from its results store) against the baseline, when one was given."""
        if self.baseline is None or not run_id:
            return None, None
        from convoload.load.run_spec import run_store_url

        current = load_run(run_id, run_store_url(config), flag="--baseline")
        return compare_with(self.baseline, current)

    def run(
        self,
        report: RunReport,
        config: Config,
        *,
        gates: Iterable[Gate] = (),
        title: str = "convoload run",
    ) -> None:
        """A run's (`run`, `stress`) JUnit XML and Markdown summary, as asked."""
        from convoload.report.junit import write_run_junit
        from convoload.report.summary_md import publish_summary, run_summary, step_summary_wanted

        if self.junit is not None:
            _said("JUnit XML", write_run_junit(self.junit, report, gates=gates))
        if self.summary is not None or step_summary_wanted():
            comparison, knee = self.comparison(config, report.run_id)
            markdown = run_summary(report, title=title, comparison=comparison, knee=knee)
            _said_all(publish_summary(markdown, self.summary))

    def capacity(
        self,
        result: CapacityResult,
        run_dir: Path,
        config: Config,
        *,
        gates: Iterable[Gate] = (),
    ) -> None:
        from convoload.report.junit import write_capacity_junit
        from convoload.report.summary_md import capacity_summary, publish_summary, step_summary_wanted

        if self.junit is not None:
            _said("JUnit XML", write_capacity_junit(self.junit, result, run_dir=run_dir, gates=gates))
        if self.summary is not None or step_summary_wanted():
            report = _report_of(run_dir)
            comparison, knee = self.comparison(config, result.run_id)
            markdown = capacity_summary(result, report, comparison=comparison, knee=knee)
            _said_all(publish_summary(markdown, self.summary))

    def pipeline(
        self,
        results: PipelineResults,
        verdict: Callable[[str, ConversationRecord], bool],
        *,
        grade_floor: str | None,
        quiet: bool,
        baseline: PipelineResults | None = None,
    ) -> None:
        from convoload.report.junit import write_pipeline_junit
        from convoload.report.summary_md import pipeline_summary, publish_summary, step_summary_wanted

        written: list[tuple[str, Path]] = []
        if self.junit is not None:
            path = write_pipeline_junit(self.junit, results, verdict, grade_floor=grade_floor)
            written.append(("JUnit XML", path))
        if self.summary is not None or step_summary_wanted():
            markdown = pipeline_summary(results, verdict, baseline=baseline)
            paths = publish_summary(markdown, self.summary)
            written += [("summary", p) for p in paths]
        if not quiet:  # --json: stdout holds the results document alone
            for what, path in written:
                _said(what, path)


def load_pipeline(spec: str, *, flag: str = "--baseline") -> PipelineResults:
    """A pipeline's results: its folder, or its real_test_results.json; one line when it is neither."""
    from pydantic import ValidationError

    from convoload.model.pipeline import RESULTS_FILE, PipelineResults

    path = Path(spec)
    file = path / RESULTS_FILE if path.is_dir() else path
    if not file.is_file():
        raise ConfigError(flag, "", f"{spec}: not a pipeline folder nor its {RESULTS_FILE}")
    try:
        return PipelineResults.read(file)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise ConfigError(str(file), ".".join(str(part) for part in error["loc"]), error["msg"]) from None
    except ValueError as exc:  # not JSON
        raise ConfigError(str(file), "", f"not JSON: {exc}") from None


def _baseline_store(given: str | None, config: Config | None) -> tuple[str, StoreOrigin] | None:
    from convoload.store.results.engine import StoreOrigin

    if given is not None:
        return store_location(given), StoreOrigin("--baseline-store")
    if config is None:
        return None
    from convoload.load.run_spec import run_store_url

    return run_store_url(config)


def _report_of(run_dir: Path) -> RunReport | None:
    """A run folder's report without its list of conversations (the journal has them)."""
    from convoload.model.report import RunReport
    from convoload.report.tables import read_aggregate_streamed
    from convoload.store.journal import AGGREGATE_NAME

    path = run_dir / AGGREGATE_NAME
    if not path.is_file():
        return None
    head, _ = read_aggregate_streamed(path)
    return RunReport.from_document(head, run_dir=run_dir)


def _said(what: str, path: Path) -> None:
    console.print(f"{what}: {path}", highlight=False, soft_wrap=True)


def _said_all(paths: list[Path]) -> None:
    for path in paths:
        _said("summary", path)
