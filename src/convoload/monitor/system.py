"""What the monitor watches: the agent config for synthetic conversations, and the health-checked parts.

With no `agent` config the monitor starts the bundled system DEFAULT_SYSTEM (the real-estate catalog
API + multi-agent assistant) once and watches it; a config whose target is a bundled system (`type:
demo`) gets the same, through `convoload.bundled.start_bundled` as every command. Any other target is
watched where it is.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from convoload.bundled import BUNDLED, StartedSystem, chat_target, start_bundled
from convoload.config import Config, Override, aimed_at, apply_overrides, load_config
from convoload.monitor.config import Component, MonitorConfig
from convoload.store.results.engine import StoreOrigin, resolve_store_url

# The bundled system watched without an agent config; the built-in pipeline scenarios are written for it.
DEFAULT_SYSTEM = "realestate"


@dataclass
class Watched:
    agent: Config  # runs the synthetic conversations (probes, stress tests)
    components: list[Component]
    pipeline: StartedSystem | None  # where the pipeline's scenarios can run; None: the pipeline is off
    bundled: StartedSystem | None  # the bundled system the monitor started, if any


def _store(config: MonitorConfig, *, check: bool = False) -> tuple[str, StoreOrigin]:
    return resolve_store_url(
        config.store_url,
        StoreOrigin(config.source, "store_url"),
        runs_dir=Path(config.runs_dir).resolve(),
        default_origin=StoreOrigin(config.source, "runs_dir"),
        check=check,
    )


def store_url(config: MonitorConfig) -> str:
    """store_url, else $CONVOLOAD_DB_URL, else the runs folder's database (resolve_store_url)."""
    return _store(config)[0]


def store_origin(config: MonitorConfig) -> StoreOrigin:
    """Where `store_url(config)` came from, for errors about it."""
    return _store(config)[1]


def resolve(config: MonitorConfig, resources: ExitStack) -> Watched:
    agent = load_config(config.path(config.agent)) if config.agent else _default_agent()
    started: StartedSystem | None = None
    if agent.target.type == "demo":  # started once, here: every job's runs talk to it
        demo = agent.target.demo
        options = demo.options
        if "listings" in BUNDLED.get(demo.agent).options.model_fields:
            options = {"listings": config.listings, **options}  # the agent config's own win
        started = start_bundled(
            demo.agent,
            resources,
            options=options,
            seed=agent.run.seed,
            signature=agent.target.receiver.signature,
            source=agent.source,
        )
        agent = _bundled_agent(agent, started)
    agent = _recording_where_the_monitor_does(agent, config)
    components = config.components
    if components is None:
        components = (
            [
                *(Component(name=name, url=url) for name, url in started.health.items()),
                *(Component(name=f"llm:{label.split('/')[0]}", provider=label) for label in started.llm),
            ]
            if started is not None
            else []
        )
    pipeline = _pipeline_system(config, agent, started)
    return Watched(agent=agent, components=components, pipeline=pipeline, bundled=started)


def _pipeline_system(
    config: MonitorConfig, agent: Config, started: StartedSystem | None
) -> StartedSystem | None:
    """Where the pipeline's suite runs (the pipeline job's and the daily one's): the configured
    external system; else the suite's bundled system if the monitor runs it; else the suite's own
    target; else, for a suite of no system, the watched agent. None (no pipeline): the suite's
    bundled system is not the one watched."""
    from convoload.pipeline.model import resolve_suite
    from convoload.pipeline.runner import target_system

    plan = config.schedule.pipeline
    external = plan.system
    if external is not None:
        return StartedSystem(
            name="external",
            url=external.chat_url,
            target=chat_target(external.chat_url),
            health={"agent": external.health_url},
            chat_url=external.chat_url,
            catalog_url=external.catalog_url,
        )
    suite = resolve_suite(plan.suite, source=config.source, field="schedule.pipeline.suite")
    if suite.system is not None:
        return started if started is not None and started.name == suite.system else None
    return target_system(suite.name, suite.target if suite.target is not None else _target_fields(agent))


def _target_fields(agent: Config) -> dict[str, Any]:
    """The agent config's target as config fields (what a pipeline run's config takes)."""
    return {"type": agent.target.type, **agent.target.model_dump(mode="json", exclude_defaults=True)}


def _default_agent() -> Config:
    return Config.model_validate({"target": {"type": "demo", "demo": {"agent": DEFAULT_SYSTEM}}})


def _recording_where_the_monitor_does(agent: Config, config: MonitorConfig) -> Config:
    """The agent config writing to the monitor's runs folder and results store: a new config, validated
    like a file (errors name where the value came from: the monitor config or $CONVOLOAD_DB_URL)."""
    url, origin = _store(config, check=True)  # a bad URL named by its origin, never echoed (a password)
    store = f"{origin.source}: {origin.field}" if origin.field else origin.source
    return apply_overrides(
        agent,
        [
            Override(store, "store.enabled", True),
            Override(store, "store.url", url),
            Override(f"{config.source}: runs_dir", "run.runs_dir", str(Path(config.runs_dir).resolve())),
        ],
    )


def _bundled_agent(agent: Config, system: StartedSystem) -> Config:
    """The agent config, pointed at the started system (personas and goal made for it): a new config,
    validated like a file, so that what the system gives obeys the fields' rules (errors name it)."""
    bundled = BUNDLED.get(system.name)
    given_by = f"bundled system {system.name}"
    overrides = []
    if agent.goal.type == "link" and not agent.goal.pattern and bundled.goal:
        overrides += [
            Override(given_by, "goal.type", "regex"),
            Override(given_by, "goal.pattern", bundled.goal),
        ]
    if agent.personas is None:
        overrides.append(Override(given_by, "personas", list(bundled.personas)))
    return apply_overrides(aimed_at(agent, system.target), overrides)
