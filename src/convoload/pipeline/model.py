"""What the pipeline runs: scenario suites, their scenarios (YAML) and their domain checks.

A suite comes from a pack (`convoload.scenarios` entry points, see `SUITES`) or from `module:attr`:
its scenarios, the bundled system it runs against (or a `target:` config of the user's own), the
checks that know its domain (what a reply says, compared with the system's own data), and the
agents' allowed hand-offs when it has an opinion on them. The runner grades what they give it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from convoload import plugins
from convoload.config import GoalConfig
from convoload.errors import ConfigError, pydantic_error_to_config_error
from convoload.model.pipeline import ScenarioResult
from convoload.safeyaml import parse_yaml, read_text_file

if TYPE_CHECKING:
    from convoload.bundled import StartedSystem
    from convoload.model import ConversationRecord


class Repeat(BaseModel):
    """A long message: `text` repeated `times` (e.g. to test very long inputs)."""

    model_config = ConfigDict(extra="forbid")
    repeat: str
    times: int = Field(ge=1, le=100_000)


class ScenarioJudge(BaseModel):
    """A scenario's `judge:`: `false` never judges it; a rubric (`{rubric: realestate}`, a shipped
    name or a YAML file next to the scenarios) always does, with that rubric."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    rubric: str | None = Field(default=None, min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"enabled": value} if isinstance(value, bool) else value


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9_\-]+$")
    description: str = ""
    conversations: int = Field(default=2, ge=1)
    concurrency: int | None = Field(default=None, ge=1)
    max_iterations: int = Field(default=15, ge=1)
    personas: list[str] | None = Field(default=None, description="default: the suite's personas")
    persona_overrides: dict[str, Any] = Field(default_factory=dict, description="merged into each persona")
    goal: GoalConfig | None = Field(default=None, description="default: the suite's goal")
    checks: list[str] = Field(default_factory=list, description="the suite's domain checks to run")
    scripts: list[list[str | Repeat]] = Field(
        default_factory=list, description="fixed messages instead of personas"
    )
    success: Literal["goal", "graceful"] = Field(
        default="goal", description="goal: the goal was reached; graceful: every reply came back, 4xx allowed"
    )
    judge: ScenarioJudge | None = Field(
        default=None, description="false: never judged; {rubric: NAME|FILE}: always judged by it"
    )

    @field_validator("scripts")
    @classmethod
    def _no_empty_scripts(cls, value: list[list[Any]]) -> list[list[Any]]:
        if any(not script for script in value):
            raise ValueError("a script needs at least one message")
        return value

    def expanded_scripts(self) -> list[list[str]]:
        return [
            [m.repeat * m.times if isinstance(m, Repeat) else m for m in script] for script in self.scripts
        ]


_SCENARIOS = TypeAdapter(list[Scenario])


def parse_scenarios(
    text: str, source: str, *, suite: ScenarioSuite | None = None, base_dir: Path | None = None
) -> list[Scenario]:
    """Scenarios from YAML text: a list, or a mapping with `scenarios:`; errors name `source` and the field.

    With `suite`, they must fit it: only its checks, and personas where it has no default ones. A
    rubric a scenario names (`judge: {rubric: ...}`) must load (a file: relative to `base_dir`).
    """
    data = parse_yaml(text, source)
    if isinstance(data, dict) and "scenarios" in data:
        data = data["scenarios"]
    if not isinstance(data, list):
        raise ConfigError(source, "", "expected a list of scenarios (or a mapping with `scenarios:`)")
    try:
        scenarios = _SCENARIOS.validate_python(data)
    except ValidationError as exc:
        raise pydantic_error_to_config_error(source, exc, prefix="scenarios") from None
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        raise ConfigError(source, "scenarios", "scenario names must be unique")
    if suite is not None:
        for index, field_name, message in _misfits(scenarios, suite.check_names, suite.name, suite.personas):
            raise ConfigError(source, f"scenarios.{index}.{field_name}", message)
    for index, scenario in enumerate(scenarios):
        if scenario.judge is not None and scenario.judge.rubric is not None:
            scenario.judge.rubric = _rubric_path(scenario.judge.rubric, base_dir)
            _check_rubric(scenario.judge.rubric, source, f"scenarios.{index}.judge.rubric")
    return scenarios


def _rubric_path(spec: str, base_dir: Path | None) -> str:
    """A rubric file named relative to the scenario file, made absolute (a shipped name as it is)."""
    is_file = spec.endswith((".yaml", ".yml")) or "/" in spec or "\\" in spec
    if not is_file or base_dir is None or Path(spec).is_absolute():
        return spec
    return str(base_dir / spec)


def _check_rubric(spec: str, source: str, field_name: str) -> None:
    from convoload.judge.rubric import load_rubric

    try:
        load_rubric(spec)
    except ConfigError as exc:
        raise ConfigError(source, field_name, exc.message) from None


def load_scenarios(path: str | Path, *, suite: ScenarioSuite | None = None) -> list[Scenario]:
    """A scenario file (see `parse_scenarios`)."""
    path = Path(path)
    return parse_scenarios(read_text_file(path), str(path), suite=suite, base_dir=path.resolve().parent)


def _misfits(
    scenarios: Sequence[Scenario], checks: Collection[str], suite: str, personas: Sequence[str]
) -> list[tuple[int, str, str]]:
    """(index, field, message) for each scenario that does not fit the suite."""
    out = []
    for index, scenario in enumerate(scenarios):
        unknown = [name for name in scenario.checks if name not in checks]
        if unknown:
            known = ", ".join(checks) or "none"
            out.append((index, "checks", f"unknown check {unknown[0]!r} (suite {suite!r} has: {known})"))
        if not scenario.personas and not personas:
            out.append((index, "personas", f"none given, and suite {suite!r} has no default personas"))
    return out


# -- domain checks ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mismatch:
    """Something a conversation said that its system's data contradicts.

    Packs subclass it with the fields of their domain; the results hold every field, in order.
    """

    session_id: str
    iteration: int

    @property
    def item(self) -> tuple[Any, ...]:
        """What was checked (a mismatch's subject): several mismatches of one item count once."""
        return (self.session_id, self.iteration)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(slots=True)
class CheckResult:
    """What a domain check found in a scenario's conversations: items checked, and the wrong ones."""

    checked: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)
    error: str | None = None  # the check itself failed (set by the runner): nothing it says is known

    @property
    def score(self) -> float:
        """Share of checked items with no mismatch (1.0 when nothing was checkable, 0.0 on error)."""
        if self.error is not None:
            return 0.0
        if not self.checked:
            return 1.0
        return round(1 - len({m.item for m in self.mismatches}) / self.checked, 4)

    def to_json(self) -> dict[str, Any]:
        document = {"checked": self.checked, "mismatches": [m.to_json() for m in self.mismatches]}
        return document if self.error is None else {**document, "error": self.error}


CheckFunction = Callable[[Sequence["ConversationRecord"], "StartedSystem"], CheckResult]


@dataclass(frozen=True, slots=True)
class DomainCheck:
    """A check a scenario names under `checks:`; its score is a quality metric of the same name.

    `run` gets the scenario's conversations and the system they talked to. A conversation with a
    mismatch does not count as a success. `advice` ends the recommendation made when the score
    holds the grade back ("N % of <advice>").
    """

    name: str
    run: CheckFunction
    advice: str = "checked items did not match the system's data (see the scenario's mismatches)"


HandoffReader = Callable[[Any], Sequence[tuple[str, str]] | None]

# Names a check cannot take: the quality metrics the runner computes and the keys of a scenario's results
# (a check's section is a key of its scenario's results in real_test_results.json).
_RESERVED = frozenset(
    {"coherence", "agent_coordination", "user_experience", "judge", *ScenarioResult.model_fields}
)
_CHECK_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class ScenarioSuite:
    """Scenarios, what they run against, and what grades them beyond success and latency.

    `system`: the bundled system (`convoload.bundled`) the pipeline starts for the suite, with
    `options`; None runs against `target` (a `target:` config section) or, in the monitor, the
    watched agent.
    `personas` and `goal`: for scenarios that name none. `allowed_handoffs`: the (from, to) pairs of
    agents that may hand a conversation over (None: no opinion, no agent_coordination metric);
    `read_handoffs` reads the hand-offs the agent reports in a reply document (None when it reports
    none, then consecutive turns' agents are compared). `rubric`: the conversation judge's rubric for
    its scenarios when the pipeline judges them (None: by persona, as `convoload judge` chooses).
    """

    name: str
    scenarios: tuple[Scenario, ...]
    description: str = ""
    system: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)  # the bundled system's, as in target.demo
    target: Mapping[str, Any] | None = None
    checks: tuple[DomainCheck, ...] = ()
    personas: tuple[str, ...] = ()
    goal: GoalConfig | None = None
    allowed_handoffs: frozenset[tuple[str, str]] | None = None
    read_handoffs: HandoffReader | None = None
    rubric: str | None = None  # what judges its scenarios (a shipped rubric or a file); see pipeline.judging

    def __post_init__(self) -> None:
        if self.system is not None and self.target is not None:
            raise ValueError("give either `system` (a bundled system) or `target`, not both")
        if self.options and self.system is None:
            raise ValueError("`options` are a bundled system's: give `system` too")
        names = [c.name for c in self.checks]
        for name in names:
            if not _CHECK_NAME.match(name) or name in _RESERVED:
                raise ValueError(
                    f"check name {name!r} is not allowed (lower_case, not one of the result keys)"
                )
        if len(set(names)) != len(names):
            raise ValueError("check names must be unique")
        scenario_names = [s.name for s in self.scenarios]
        if len(set(scenario_names)) != len(scenario_names):
            raise ValueError("scenario names must be unique")
        for index, field_name, message in _misfits(self.scenarios, names, self.name, self.personas):
            raise ValueError(f"scenarios.{index}.{field_name}: {message}")

    @property
    def check_names(self) -> list[str]:
        return [c.name for c in self.checks]

    def with_scenarios(self, scenarios: Sequence[Scenario]) -> ScenarioSuite:
        """This suite with other scenarios (e.g. a user's file, already checked against `check_names`)."""
        return dataclasses.replace(self, scenarios=tuple(scenarios))

    def personas_of(self, scenario: Scenario) -> list[str]:
        return list(scenario.personas or self.personas)

    def goal_of(self, scenario: Scenario) -> GoalConfig:
        return scenario.goal or self.goal or GoalConfig()


def _check_suite(obj: Any) -> ScenarioSuite:
    if not isinstance(obj, ScenarioSuite):
        raise ValueError(f"expected a ScenarioSuite, got {type(obj).__name__}")
    return obj


SUITES: plugins.Registry[ScenarioSuite] = plugins.Registry(plugins.SCENARIOS, "scenario suite", _check_suite)
DEFAULT_SUITE = "realestate"


def resolve_suite(spec: str, *, source: str = "--suite", field: str = "") -> ScenarioSuite:
    """An installed suite's name or `module:attr`; a one-line ConfigError naming `source` otherwise."""
    try:
        return SUITES.resolve(spec)
    except KeyError as exc:
        raise ConfigError(source, field, str(exc.args[0])) from None
