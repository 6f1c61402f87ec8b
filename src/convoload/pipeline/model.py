"""Scenario definitions (YAML): who talks to the assistant, how long, and what counts as success."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from convoload.config import GoalConfig
from convoload.errors import ConfigError, pydantic_error_to_config_error
from convoload.personas.loader import read_text_file
from convoload.safeyaml import parse_yaml


class Repeat(BaseModel):
    """A long message: `text` repeated `times` (e.g. to test very long inputs)."""

    model_config = ConfigDict(extra="forbid")
    repeat: str
    times: int = Field(ge=1, le=100_000)


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9_\-]+$")
    description: str = ""
    conversations: int = Field(default=2, ge=1)
    concurrency: int | None = Field(default=None, ge=1)
    max_iterations: int = Field(default=15, ge=1)
    personas: list[str] = Field(default_factory=lambda: ["renata", "ricardo", "julia", "helena", "marcus"])
    persona_overrides: dict[str, Any] = Field(default_factory=dict, description="merged into each persona")
    goal: GoalConfig = Field(
        default_factory=lambda: GoalConfig(type="regex", pattern="visita agendada|visit booked")
    )
    checks: list[Literal["data_consistency"]] = Field(default_factory=list)
    scripts: list[list[str | Repeat]] = Field(
        default_factory=list, description="fixed messages instead of personas"
    )
    success: Literal["goal", "graceful"] = Field(
        default="goal", description="goal: the goal was reached; graceful: every reply came back, 4xx allowed"
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


def builtin_scenarios() -> list[Scenario]:
    text = (resources.files("convoload.pipeline") / "scenarios.yaml").read_text(encoding="utf-8")
    return _SCENARIOS.validate_python(parse_yaml(text, "scenarios.yaml"))


def load_scenarios(path: str | Path) -> list[Scenario]:
    path = Path(path)
    data = parse_yaml(read_text_file(path), str(path))
    if isinstance(data, dict) and "scenarios" in data:
        data = data["scenarios"]
    if not isinstance(data, list):
        raise ConfigError(str(path), "", "expected a list of scenarios (or a mapping with `scenarios:`)")
    try:
        scenarios = _SCENARIOS.validate_python(data)
    except ValidationError as exc:
        raise pydantic_error_to_config_error(str(path), exc, prefix="scenarios") from None
    names = [s.name for s in scenarios]
    if len(set(names)) != len(names):
        raise ConfigError(str(path), "scenarios", "scenario names must be unique")
    return scenarios
