"""Settings of the demo ticket server (kept apart so the launcher does not import FastAPI)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

from convoload.config import SignatureConfig
from convoload_demo.turnlimit import ENV, limit_from_env


class TicketServerSettings(BaseModel):
    """Behaviour knobs of the demo server; all of them can be set from the command line."""

    model_config = ConfigDict(frozen=True)

    reply_delay_s: float = Field(0.2, ge=0, description="Simulated 'thinking' time before replying.")
    jitter_s: float = Field(0.1, ge=0, description="Uniform +/- jitter added to the delay.")
    split_messages: bool = Field(False, description="One callback per assistant message.")
    closed_dates: frozenset[date] | None = Field(None, description="None = the park's default closures.")
    seed: int | None = Field(None, description="Seed of the jitter RNG, for reproducible delays.")
    max_body_bytes: int = Field(64_000, gt=0)
    season_year: int = 2026
    retry_backoff_s: tuple[float, ...] = Field((0.2, 0.5, 1.0), description="Waits between callback retries.")
    callback_timeout_s: float = Field(5.0, gt=0)
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
        """Flags for ``python -m convoload_demo.tickets`` reproducing these settings."""
        args = [
            "--reply-delay",
            repr(self.reply_delay_s),
            "--jitter",
            repr(self.jitter_s),
            "--max-body-bytes",
            str(self.max_body_bytes),
            "--season-year",
            str(self.season_year),
        ]
        if self.split_messages:
            args.append("--split-messages")
        if self.seed is not None:
            args += ["--seed", str(self.seed)]
        if self.closed_dates is not None:
            args.append("--no-default-closed-dates")
            for day in sorted(self.closed_dates):
                args += ["--closed-date", day.isoformat()]
        if self.retry_backoff_s != (0.2, 0.5, 1.0):
            args += ["--retry-backoff", ",".join(repr(x) for x in self.retry_backoff_s)]
        if self.max_concurrent_turns is not None:
            args += ["--max-concurrent-turns", str(self.max_concurrent_turns)]
        if self.signature is not None:  # the secret's name only: its value stays in the environment
            args += ["--sign", self.signature.model_dump_json(exclude_defaults=True)]
        return args
