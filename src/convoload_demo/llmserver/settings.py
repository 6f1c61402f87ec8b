"""Settings of the local LLM provider (kept apart so the launcher does not import FastAPI)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from convoload_demo.llmserver.script import Script


class LLMServerSettings(BaseModel):
    """Start-up knobs; everything but ``ready_url`` can be given on the command line."""

    model_config = ConfigDict(frozen=True)

    api_key: str | None = Field(None, description="When set, /v1 requests need 'Authorization: Bearer KEY'.")
    latency_s: float = Field(0.0, ge=0, description="Delay before each chat answer (script may override).")
    jitter_s: float = Field(0.0, ge=0, description="Uniform +/- jitter on the delay.")
    seed: int | None = Field(None, description="Seed of the jitter and id RNG.")
    script: Script = Field(default_factory=Script, description="Initial script (see the package docs).")
    ready_url: str | None = Field(None, description="When set, print 'READY <url>' once started.")

    def cli_args(self, script_path: str | None = None) -> list[str]:
        """Flags for ``python -m convoload_demo.llmserver``; the script travels as a file."""
        args = ["--latency", repr(self.latency_s), "--jitter", repr(self.jitter_s)]
        if self.api_key is not None:
            args += ["--api-key", self.api_key]
        if self.seed is not None:
            args += ["--seed", str(self.seed)]
        if script_path is not None:
            args += ["--script", script_path]
        return args
