"""The persona model, as written in persona YAML files."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from convoload.textutil import fold

Language = Literal["pt-BR", "en"]


class Persona(BaseModel):
    """A simulated customer.

    `facts` are what the user may reveal when asked (dates, quantities, ticket
    categories, ...); `behaviours` are yes/no decisions (accepts upselling, accepts
    an alternative date, ...). Both are read by the persona's playbook (scripted
    users) and rendered into the system prompt (LLM users). `steps` are messages
    sent first, verbatim, before the user starts reacting to the agent.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    language: Language = "pt-BR"
    description: str = ""
    goal: str = ""
    # How a scripted user plays it: a registered playbook name or `module:Class`; None: the bundled
    # system's default when the target is one (LLM users need none).
    playbook: str | None = None
    facts: dict[str, Any] = Field(default_factory=dict)
    behaviours: dict[str, bool] = Field(default_factory=dict)
    steps: list[str] = Field(default_factory=list)
    weight: float = Field(default=1.0, gt=0)
    source: str | None = Field(default=None, exclude=True)

    @field_validator("language", mode="before")
    @classmethod
    def _normalise_language(cls, value: Any) -> Any:
        if isinstance(value, str):
            lowered = value.strip().lower().replace("_", "-")
            if lowered in {"pt", "pt-br", "portuguese", "português", "portugues"}:
                return "pt-BR"
            if lowered in {"en", "en-us", "en-gb", "english"}:
                return "en"
        return value

    @field_validator("steps")
    @classmethod
    def _no_blank_steps(cls, value: list[str]) -> list[str]:
        for i, step in enumerate(value):
            if not step.strip():
                raise ValueError(f"step {i} is empty")
        return value

    def behaves(self, name: str, default: bool = False) -> bool:
        return bool(self.behaviours.get(name, default))

    @property
    def key(self) -> str:
        """How personas are looked up: case- and accent-insensitive (`--persona julia` finds Júlia)."""
        return fold(self.name.strip())
