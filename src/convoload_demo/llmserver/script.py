"""The script that drives the local LLM provider (format documented in the package docstring)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Behaviour = Literal["echo", "canned", "tool", "persona"]
FaultKind = Literal[
    "rate_limit",
    "server_error",
    "unavailable",
    "timeout",
    "malformed",
    "bad_shape",
    "tools_unsupported",
    "empty",
]
BUILTIN_MODELS: tuple[str, ...] = ("echo", "persona")


class Fault(BaseModel):
    """One injected failure, served ``times`` times to the requests it matches."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: FaultKind
    times: int = Field(1, ge=1)
    model: str | None = Field(None, description="Only requests for this model match; None = any model.")
    retry_after: float = Field(1.0, ge=0, description="rate_limit: value of the Retry-After header (s).")
    seconds: float = Field(30.0, ge=0, description="timeout: how long to stall before answering.")
    style: Literal["openrouter", "ollama"] = Field("openrouter", description="tools_unsupported flavour.")
    message: str | None = Field(None, description="Replaces the default error message.")


class ToolCallSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(None, description="Tool to call; None = the first tool of the request.")
    arguments: dict[str, Any] = Field(default_factory=dict)
    as_text: bool = Field(False, description="Write the call into the content instead of tool_calls.")


class Cost(BaseModel):
    """USD per million tokens; ``cached_input`` (default: ``input``) prices cached prompt tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(None, ge=0)

    def usd(self, prompt_tokens: int, cached_tokens: int, completion_tokens: int) -> float:
        cached_price = self.input if self.cached_input is None else self.cached_input
        fresh = prompt_tokens - cached_tokens
        return (fresh * self.input + cached_tokens * cached_price + completion_tokens * self.output) / 1e6


class Script(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    models: dict[str, Behaviour] = Field(default_factory=dict)
    canned: dict[str, list[str]] = Field(default_factory=dict)
    tool_call: ToolCallSpec = Field(default_factory=ToolCallSpec)
    faults: list[Fault] = Field(default_factory=list)
    latency_s: float | None = Field(None, ge=0)
    jitter_s: float | None = Field(None, ge=0)
    reasoning_tokens: int | dict[str, int] = 0
    cost_per_million: Cost | None = None

    @model_validator(mode="after")
    def _canned_models_have_replies(self) -> Script:
        for model, behaviour in self.models.items():
            if behaviour == "canned" and not self.canned.get(model):
                raise ValueError(f"model {model!r} is canned but canned[{model!r}] has no replies")
        for model, replies in self.canned.items():
            if not replies:
                raise ValueError(f"canned[{model!r}] is empty")
        reasoning = self.reasoning_tokens
        values = reasoning.values() if isinstance(reasoning, dict) else [reasoning]
        if any(v < 0 for v in values):
            raise ValueError("reasoning_tokens must be >= 0")
        return self

    def behaviour_of(self, model: str, has_persona_block: bool) -> Behaviour:
        """Scripted behaviour, else canned when replies exist, else the built-in names, else sniffed."""
        if model in self.models:
            return self.models[model]
        if model in self.canned:
            return "canned"
        if model in BUILTIN_MODELS:
            return "echo" if model == "echo" else "persona"
        return "persona" if has_persona_block else "echo"

    def reasoning_for(self, model: str) -> int:
        if isinstance(self.reasoning_tokens, dict):
            return self.reasoning_tokens.get(model, 0)
        return self.reasoning_tokens

    def model_names(self) -> list[str]:
        names = dict.fromkeys([*self.models, *self.canned, *BUILTIN_MODELS])
        return list(names)
