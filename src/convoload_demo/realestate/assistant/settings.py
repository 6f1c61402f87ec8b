"""Settings of the real-estate chat assistant (kept apart so the launcher does not import FastAPI)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from convoload_demo.turnlimit import ENV, limit_from_env

# The chain our users' production assistant uses: OpenRouter's Gemma 3, falling back to a local Ollama.
DEFAULT_LLM_CHAIN = ("openrouter/google/gemma-3-27b-it:free", "ollama/gemma3n:e2b")


class AssistantSettings(BaseModel):
    """Start-up knobs; everything but ``ready_url`` can be given on the command line."""

    model_config = ConfigDict(frozen=True)

    catalog_url: str = Field("http://127.0.0.1:8000", description="Base URL of the property catalog API.")
    brain: Literal["rules", "llm"] = Field("rules", description="Offline rules, or an LLM provider chain.")
    llm: tuple[str, ...] = Field((), description="PROVIDER/MODEL labels, in fallback order (brain=llm).")
    local_llm_url: str | None = Field(None, description="Base URL (…/v1) of the 'local' provider.")
    max_steps_per_turn: int = Field(8, ge=1)
    catalog_timeout_s: float = Field(10.0, gt=0)
    max_concurrent_turns: int | None = Field(
        default_factory=limit_from_env,
        ge=1,
        description=f"Turns served at once, the rest queue (default: ${ENV}, else no limit).",
    )
    ready_url: str | None = Field(None, description="When set, print 'READY <url>' once started.")

    def cli_args(self) -> list[str]:
        """Flags for ``python -m convoload_demo.realestate.assistant`` reproducing these settings."""
        args = ["--catalog-url", self.catalog_url, "--brain", self.brain]
        if self.llm:
            args += ["--llm", *self.llm]
        if self.local_llm_url:
            args += ["--local-llm-url", self.local_llm_url]
        args += [
            "--max-steps",
            str(self.max_steps_per_turn),
            "--catalog-timeout",
            repr(self.catalog_timeout_s),
        ]
        if self.max_concurrent_turns is not None:
            args += ["--max-concurrent-turns", str(self.max_concurrent_turns)]
        return args
