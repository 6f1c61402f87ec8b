"""Bundled systems: agents (and services) that convoload can start for you, registered by packs.

A config whose target is `type: demo` names one under `target.demo.agent`; `convoload demo`,
`stress`, `pipeline` and `monitor` start them too. Every one of them goes through ONE function,
`start_bundled`, which asks the `BUNDLED` registry (entry-point group `convoload.bundled`) for the
system and calls its `start`. A pack registers its own system the way the demo pack registers
`tickets` and `realestate`:

    [project.entry-points."convoload.bundled"]
    insurance = "my_pack.bundled:INSURANCE"      # an instance of a BundledSystem subclass

    class Insurance(BundledSystem):
        options = InsuranceOptions               # pydantic model of target.demo's other fields
        personas = ("ana", "bruno")              # played when the config names none
        persona_folder = files("my_pack") / "personas"
        goal = r"policy issued"                  # regex: the customer got what they came for
        playbook = "insurance"                   # scripted users' playbook (convoload.playbooks)
        def start(self, options, launch):        # start servers into launch.resources
            server = launch.resources.enter_context(MyServer(options))
            return StartedSystem("insurance", server.url, chat_target(server.url + "/chat"), ...)

convoload only ever reaches a pack through this registry: it never imports one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ValidationError

from convoload import plugins
from convoload.errors import ConfigError, pydantic_error_to_config_error

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable


@dataclass(frozen=True, slots=True)
class StartedSystem:
    """A bundled system, up and listening, until the ExitStack it was started into closes."""

    name: str  # the registered name it was started under
    url: str  # where it is (a run's run.json `target.url`)
    target: Mapping[str, Any]  # the config `target` fields that reach it (type, url, body, preset, ...)
    components: Mapping[str, str] = field(default_factory=dict)  # its parts, for people: name -> URL
    health: Mapping[str, str] = field(default_factory=dict)  # component -> health URL ("agent" first)
    llm: tuple[str, ...] = ()  # PROVIDER/MODEL labels it thinks with (the monitor checks them)
    chat_url: str | None = None  # its synchronous chat API (`chat_target`), when it has one
    catalog_url: str | None = None  # the data API its replies can be checked against, when it has one

    @property
    def health_url(self) -> str | None:
        """The agent's own health endpoint."""
        return self.health.get("agent")


@dataclass(frozen=True, slots=True)
class Launch:
    """What a system's `start` gets besides its options."""

    resources: ExitStack  # enter every server here: closing it stops them
    seed: int | None = None  # for whatever the system randomises (reply delays), reproducibly
    # target.receiver.signature (a convoload.config.SignatureConfig): sign callbacks as the receiver expects
    signature: BaseModel | None = None


class BundledSystem(ABC):
    """One startable system. Subclass it, set the class attributes, implement `start`."""

    options: ClassVar[type[BaseModel]]  # target.demo's fields besides `agent` (extra="forbid" advised)
    description: ClassVar[str] = ""  # one line, for listings
    personas: ClassVar[tuple[str, ...]] = ()  # default persona names (from persona_folder)
    persona_folder: ClassVar[Traversable | None] = None  # where its YAML personas are
    goal: ClassVar[str | None] = None  # regex goal when the config sets none; None: the target's link
    playbook: ClassVar[str | None] = None  # scripted users' playbook for personas that name none
    domains: ClassVar[tuple[str, ...]] = ()  # what its conversations are about (domain hooks)
    callbacks: ClassVar[bool] = False  # answers through webhook callbacks (runs need a receiver)
    agent: ClassVar[bool] = True  # False: a service a run may need (an LLM server), not an agent to test

    @abstractmethod
    def start(self, options: Any, launch: Launch) -> StartedSystem:
        """Start the servers (into `launch.resources`) and say where they are. `options` is validated."""


def _check(obj: Any) -> BundledSystem:
    if isinstance(obj, type) and issubclass(obj, BundledSystem):
        obj = obj()
    if not isinstance(obj, BundledSystem):
        raise ValueError(f"is a {type(obj).__name__}, not a convoload.bundled.BundledSystem")
    return obj


BUNDLED: plugins.Registry[BundledSystem] = plugins.Registry(plugins.BUNDLED, "bundled system", _check)


def agent_names() -> list[str]:
    """The installed bundled agents (the systems one can converse with), sorted."""
    return [name for name in BUNDLED.names() if BUNDLED.get(name).agent]


def bundled_agent(name: str) -> BundledSystem:
    """The bundled agent `name`; ValueError naming the installed ones when there is none."""
    try:
        system = BUNDLED.get(name)
    except KeyError as exc:
        if name in BUNDLED:  # installed, but its pack is broken: say so
            raise ValueError(exc.args[0]) from None
        system = None
    if system is None or not system.agent:
        raise ValueError(f"unknown bundled agent {name!r} (installed: {', '.join(agent_names()) or 'none'})")
    return system


def chat_target(url: str) -> dict[str, Any]:
    """The target fields for a synchronous chat API: POST {session_id, message} -> {reply, agent}."""
    return {
        "type": "http",
        "url": url,
        "body": {"session_id": "{session_id}", "message": "{text}"},
        "reply_path": "reply",
        "agent_path": "agent",
    }


def start_bundled(
    name: str,
    resources: ExitStack,
    *,
    options: Mapping[str, Any] | None = None,
    seed: int | None = None,
    signature: BaseModel | None = None,
    source: str = "bundled system",
) -> StartedSystem:
    """Start the bundled system `name` with these options (a run's `target.demo` options); it stops
    when `resources` closes. Unknown names and bad options are ConfigErrors naming `target.demo.agent`
    or `target.demo.<field>` in `source` (a config file, usually).
    """
    try:
        system = BUNDLED.get(name)
    except KeyError as exc:
        raise ConfigError(source, "target.demo.agent", exc.args[0]) from None
    try:
        validated = system.options.model_validate(dict(options or {}))
    except ValidationError as exc:
        raise pydantic_error_to_config_error(source, exc, prefix="target.demo") from None
    return system.start(validated, Launch(resources=resources, seed=seed, signature=signature))


__all__ = [
    "BUNDLED",
    "BundledSystem",
    "Launch",
    "StartedSystem",
    "agent_names",
    "bundled_agent",
    "chat_target",
    "start_bundled",
]
