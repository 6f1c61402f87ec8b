"""Settings of the local LLM provider (kept apart so the launcher does not import FastAPI)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from convoload_demo.llmserver.script import Script

# The simulator faults convoload.users.simcheck detects, produced on demand in persona mode.
SimFaultKind = Literal["empty", "role_leak", "no_stop", "stop_mid", "language_drift", "identity_drift"]


class LLMServerSettings(BaseModel):
    """Start-up knobs; everything but ``ready_url`` can be given on the command line."""

    model_config = ConfigDict(frozen=True)

    api_key: str | None = Field(None, description="When set, /v1 requests need 'Authorization: Bearer KEY'.")
    latency_s: float = Field(0.0, ge=0, description="Delay before each chat answer (script may override).")
    jitter_s: float = Field(0.0, ge=0, description="Uniform +/- jitter on the delay.")
    seed: int | None = Field(None, description="Seed of the jitter and id RNG.")
    script: Script = Field(default_factory=Script, description="Initial script (see the package docs).")
    ready_url: str | None = Field(None, description="When set, print 'READY <url>' once started.")
    sim_fault: SimFaultKind | None = Field(
        None, description="Persona mode: answer with this simulator fault instead of the customer's line."
    )
    sim_fault_on: tuple[int, ...] = Field(
        (),
        description="Which persona answers get sim_fault: 1-based, counted since start (or the last "
        "reset); empty = every one.",
    )

    def cli_args(self, script_path: str | None = None) -> list[str]:
        """Flags for ``python -m convoload_demo.llmserver``; the script travels as a file."""
        args = ["--latency", repr(self.latency_s), "--jitter", repr(self.jitter_s)]
        if self.api_key is not None:
            args += ["--api-key", self.api_key]
        if self.seed is not None:
            args += ["--seed", str(self.seed)]
        if script_path is not None:
            args += ["--script", script_path]
        if self.sim_fault is not None:
            args += ["--sim-fault", self.sim_fault]
        if self.sim_fault_on:
            args += ["--sim-fault-on", ",".join(str(n) for n in self.sim_fault_on)]
        return args
