"""`convoload capacity --workers N`: the capacity steps as the Locust master's load shape.

The master and its workers run `knee/locustfile.py`: convoload's own locustfile plus the shape, whose
plan comes from the environment (PLAN_ENV, set by the command for every process). Workers play the
conversations as in `run --workers`; the master's shape moves the whole cluster from step to step,
and its tally reads each conversation's record as the master receives it (it sees no conversation
events): a conversation is placed in a step by its start time, a turn by the time it was sent, both
from the record's timestamps on the master's clock (all processes run on one machine). The live
SLO checks therefore see a conversation once it has finished and been shipped. When the test ends
the master writes capacity.json, capacity.html and the store's verdict; with `judge`, it first
finishes the run's own records and judges the run as `convoload judge RUN` would, so that each step
has its judge's scores.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from locust import events
from pydantic import BaseModel

from convoload.knee.run import CapacityRun
from convoload.knee.shape import CapacityShape

# Its listeners first: the master's hub is set up before this module's listener attaches to it.
from convoload.load import locust_plugin
from convoload.model.capacity import CapacitySettings

PLAN_ENV = "CONVOLOAD_CAPACITY_PLAN"
log = logging.getLogger(__name__)


class ClusterPlan(BaseModel):
    settings: CapacitySettings
    store_url: str | None = None  # the master's results store, for the verdict
    judge: bool = False  # judge the run's conversations once it has ended (the config's judge section)


class CapacityClusterShape(CapacityShape):
    """The plan in PLAN_ENV as a shape (Locust makes it without arguments)."""

    def __init__(self) -> None:
        text = os.environ.get(PLAN_ENV)
        if not text:
            raise RuntimeError(
                f"{PLAN_ENV} is not set: run this locustfile through `convoload capacity --workers`"
            )
        self.plan = ClusterPlan.model_validate_json(text)
        settings = self.plan.settings
        super().__init__(settings.steps, settings.step_duration_s, settings.warm_up_s)


@events.init.add_listener
def _attach(environment: Any, **_kwargs: Any) -> None:
    hub = getattr(environment, "convoload_master", None)
    shape = environment.shape_class
    if hub is None or not isinstance(shape, CapacityClusterShape):
        return  # a worker: it only plays conversations
    run = CapacityRun(shape.plan.settings, shape)
    run.store_url = shape.plan.store_url
    hub.records.listeners.append(run.tally.add_record)
    environment.convoload_capacity = run


@events.quitting.add_listener
def _conclude(environment: Any, **_kwargs: Any) -> None:
    run: CapacityRun | None = getattr(environment, "convoload_capacity", None)
    hub = getattr(environment, "convoload_master", None)
    if run is None or hub is None:
        return
    plan: ClusterPlan = environment.shape_class.plan
    if plan.judge:
        # Locust fires `quitting` in reverse: this runs before the plugin writes the run's records.
        # The judge needs them whole, and its verdicts must land in them, not be written over.
        locust_plugin.stop_on_signal(environment)
        hub.finish()
        _judge(environment, hub.run_dir, plan.store_url)
    run.finish(hub.run_id, hub.run_dir, hub.stopped_by)


def _judge(environment: Any, run_dir: Path, store_url: str | None) -> None:
    """The run judged after the fact, in the master, where the steps' conversations are known: the
    verdicts go into the run's files and store as `convoload judge RUN` puts them, and into the steps."""
    from convoload.config import load_config
    from convoload.judge.runner import judge_finished_run, record_judged_run
    from convoload.store.results.engine import StoreOrigin

    config = load_config(getattr(environment.parsed_options, "convoload_config", None))
    try:
        summary = judge_finished_run(config, run_dir)
        store = (store_url, StoreOrigin(config.source, "store.url")) if store_url is not None else None
        record_judged_run(run_dir, summary, store)
    except Exception:  # the capacity verdict is written all the same, without the judge's scores
        log.exception("could not judge capacity run %s", run_dir.name)
