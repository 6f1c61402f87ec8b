"""What the monitor watches: the agent config for synthetic conversations, and the health-checked parts.

With no `agent` config the monitor starts the bundled real-estate system (catalog API + multi-agent
assistant) once and watches it; a config whose target is the bundled real-estate demo gets the same.
Any other target is watched where it is.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from convoload.config import DEMO_GOALS, DEMO_PERSONAS, Config, load_config
from convoload.monitor.config import Component, MonitorConfig
from convoload.pipeline.runner import System, start_system
from convoload.store.results.engine import StoreOrigin, resolve_store_url
from convoload_demo.realestate.assistant.settings import DEFAULT_LLM_CHAIN


@dataclass
class Watched:
    agent: Config  # runs the synthetic conversations (probes, stress tests)
    components: list[Component]
    pipeline: System | None  # where the pipeline's scenarios can run; None: the pipeline is off
    bundled: dict[str, str]  # the bundled system's parts and their URLs, when the monitor started it


def _store(config: MonitorConfig) -> tuple[str, StoreOrigin]:
    return resolve_store_url(
        config.store_url,
        StoreOrigin(config.source, "store_url"),
        runs_dir=Path(config.runs_dir).resolve(),
        default_origin=StoreOrigin(config.source, "runs_dir"),
    )


def store_url(config: MonitorConfig) -> str:
    """store_url, else $CONVOLOAD_DB_URL, else the runs folder's database (resolve_store_url)."""
    return _store(config)[0]


def store_origin(config: MonitorConfig) -> StoreOrigin:
    """Where `store_url(config)` came from, for errors about it."""
    return _store(config)[1]


def resolve(config: MonitorConfig, resources: ExitStack) -> Watched:
    agent = load_config(config.path(config.agent)) if config.agent else None
    bundled = agent is None or (agent.target.type == "demo" and agent.target.demo.agent == "realestate")
    system: System | None = None
    parts: dict[str, str] = {}
    llm: tuple[str, ...] = ()
    if bundled:
        # As `convoload demo` does: the assistant thinks with an LLM chain when OpenRouter's key is set.
        brain = agent.target.demo.brain if agent is not None else "auto"
        if brain == "auto":
            brain = "llm" if os.environ.get("OPENROUTER_API_KEY") else "rules"
        llm = DEFAULT_LLM_CHAIN if brain == "llm" else ()
        system = start_system(resources, config.listings, brain=brain, llm=llm)
        parts = {
            "assistant": system.chat_url.rsplit("/api/", 1)[0],
            "catalog": system.catalog_url,
            "brain": brain,
        }
        agent = _bundled_agent(agent or Config(), system)
    assert agent is not None
    agent = agent.model_copy(
        update={
            "store": agent.store.model_copy(update={"enabled": True, "url": store_url(config)}),
            "run": agent.run.model_copy(update={"runs_dir": str(Path(config.runs_dir).resolve())}),
        }
    )
    components = config.components
    if components is None:
        components = (
            [
                Component(name="agent", url=system.health_url),
                Component(name="catalog", url=system.catalog_url + "/health"),
                *(Component(name=f"llm:{label.split('/')[0]}", provider=label) for label in llm),
            ]
            if system is not None
            else []
        )
    pipeline = config.schedule.pipeline.system
    if pipeline is not None:
        system = System(pipeline.chat_url, pipeline.catalog_url, pipeline.health_url)
    return Watched(agent=agent, components=components, pipeline=system, bundled=parts)


def _bundled_agent(agent: Config, system: System) -> Config:
    """The agent config, pointed at the bundled system's chat API (personas and goal made for it)."""
    target = agent.target.model_copy(
        update={
            "type": "http",
            "url": system.chat_url,
            "reply_path": "reply",
            "agent_path": "agent",
            "body": {"session_id": "{session_id}", "message": "{text}"},
        }
    )
    goal = agent.goal
    if goal.type == "link" and not goal.pattern:
        goal = goal.model_copy(update={"type": "regex", "pattern": DEMO_GOALS["realestate"]})
    personas = agent.personas if agent.personas is not None else list(DEMO_PERSONAS["realestate"])
    return agent.model_copy(update={"target": target, "goal": goal, "personas": personas})
