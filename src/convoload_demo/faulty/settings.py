"""Start-up settings of the faulty target (kept apart so the launcher does not import FastAPI)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from convoload.config import SignatureConfig
from convoload_demo.faulty.plan import Fault
from convoload_demo.turnlimit import ENV, limit_from_env


class FaultyServerSettings(BaseModel):
    """Everything but `ready_url` can be given on the command line (`cli_args`)."""

    model_config = ConfigDict(frozen=True)

    goal_turn: int = Field(3, ge=1, description="Healthy replies carry the payment link from this turn on.")
    reply_delay_s: float = Field(0.0, ge=0, description="Thinking time before every reply or callback.")
    seed: int = Field(0, description="Seed of rate selectors.")
    faults: tuple[Fault, ...] = Field((), description="The initial fault plan (see the package docs).")
    callback_timeout_s: float = Field(5.0, gt=0, description="Timeout of each callback request.")
    max_concurrent_turns: int | None = Field(
        default_factory=limit_from_env,
        ge=1,
        description=f"Turns served at once, the rest queue (default: ${ENV}, else no limit).",
    )
    ready_url: str | None = Field(None, description="When set, print 'READY <url>' once started.")
    signature: SignatureConfig | None = Field(
        None, description="Sign each callback (target.receiver.signature's fields; the secret from env)."
    )

    def cli_args(self) -> list[str]:
        """Flags for ``python -m convoload_demo.faulty`` reproducing these settings."""
        args = [
            "--goal-turn",
            str(self.goal_turn),
            "--reply-delay",
            repr(self.reply_delay_s),
            "--seed",
            str(self.seed),
            "--callback-timeout",
            repr(self.callback_timeout_s),
        ]
        if self.max_concurrent_turns is not None:
            args += ["--max-concurrent-turns", str(self.max_concurrent_turns)]
        for fault in self.faults:
            args += ["--fault", fault.model_dump_json(exclude_defaults=True)]
        if self.signature is not None:  # the secret's name only: its value stays in the environment
            args += ["--sign", self.signature.model_dump_json(exclude_defaults=True)]
        return args
