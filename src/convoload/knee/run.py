"""A capacity run over the run loop: the shape and tally it needs, then capacity.json, the page, the store.

The run itself is `convoload.api.execute` with the capacity shape (the same run folder, journal,
aggregate, report and store as a stress test); `attach` goes in as its `on_start`, `finish` turns
what the tally saw into the result once it has returned, with the judge's scores per step when the
run judged its conversations (judge.enabled: `execute` judges them before it returns).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from convoload.knee.shape import CapacityShape
from convoload.knee.tally import CapacityTally
from convoload.knee.verdict import find_knee
from convoload.model.capacity import CAPACITY_NAME, CapacityResult, CapacitySettings
from convoload.model.judgement import Judgement

if TYPE_CHECKING:
    from convoload.load.context import RunContext

CAPACITY_PAGE = "capacity.html"
log = logging.getLogger(__name__)


class CapacityRun:
    """A capacity run's shape and tally. `shape`: one Locust made already (a distributed run's master,
    see knee.distributed); by default a new one from `settings`."""

    def __init__(self, settings: CapacitySettings, shape: CapacityShape | None = None) -> None:
        self.settings = settings
        self.shape = shape or CapacityShape(settings.steps, settings.step_duration_s, settings.warm_up_s)
        self.tally = CapacityTally(
            self.shape, settings.slos, abort_after_s=settings.abort_after_s, abort=settings.abort
        )
        self.store_url: str | None = None

    def attach(self, context: RunContext) -> None:
        """`on_start` of the run: follow its conversations; remember its results store."""
        self.tally.attach(context.bus)
        where = context.spec.store_url
        self.store_url = where[0] if where is not None else None

    def finish(self, run_id: str, run_dir: Path, stopped_by: str | None = None) -> CapacityResult:
        """The result of the run that has just ended: written to capacity.json and capacity.html, and
        recorded in the results store."""
        if self.shape.current is not None:  # ended from outside (a signal) during a step
            self.shape.end(self.shape.now(), stopped_by or "the run was stopped")
        steps = self.tally.steps(_judgements(run_dir))
        result = CapacityResult(
            run_id=run_id,
            settings=self.settings,
            steps=steps,
            verdict=find_knee(steps),
            stopped_early=self.shape.stop_reason,
        )
        (run_dir / CAPACITY_NAME).write_text(result.to_json(), encoding="utf-8")
        from convoload.knee.html import render_capacity_html

        (run_dir / CAPACITY_PAGE).write_text(render_capacity_html(result), encoding="utf-8")
        if self.store_url is not None:
            from convoload.knee.store import record_capacity

            try:
                record_capacity(self.store_url, result)
            except Exception:  # as for the run's own row: logged, the files are written anyway
                log.exception("results store: could not record the capacity of run %s", run_id)
        return result


def _judgements(run_dir: Path) -> dict[str, Judgement] | None:
    """The verdicts of a run the judge scored when it ended (judge.enabled), by session id."""
    from convoload.judge.runner import JUDGEMENTS_NAME, read_judgements

    if not (run_dir / JUDGEMENTS_NAME).is_file():
        return None
    return {j.session_id: j for j in read_judgements(run_dir)}
