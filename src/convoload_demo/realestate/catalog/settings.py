"""Settings of the property catalog server (kept apart so the launcher does not import FastAPI)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

# What the bundled system runs with (load tests, the pipeline, the monitor). Every simulated customer of a
# persona asks for the same listing and time, so bookings race and collide as they should; a slot returns
# a quarter of a second later, so a persona's calendar (54 slots over the 6 days the assistant offers)
# only fills above ~200 bookings a second, more than the bundled assistant can serve.
SANDBOX_RELEASE_S = 0.25


class CatalogSettings(BaseModel):
    """Start-up knobs; everything but ``ready_url`` can be given on the command line."""

    model_config = ConfigDict(frozen=True)

    listings: int = Field(10_000, ge=0, description="Listings to generate when the database has none.")
    seed: int = Field(42, description="Seed of the catalog generator: same seed, same catalog.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; None = SQLite file in a temp dir.")
    release_visits_after_s: float | None = Field(
        None,
        gt=0,
        description="Sandbox: a booked visit gives its slot back this many seconds later; None keeps it.",
    )
    ready_url: str | None = Field(None, description="When set, print 'READY <url>' once started.")

    def cli_args(self) -> list[str]:
        """Flags for ``python -m convoload_demo.realestate.catalog`` reproducing these settings."""
        args = ["--listings", str(self.listings), "--seed", str(self.seed)]
        if self.database_url:
            args += ["--database-url", self.database_url]
        if self.release_visits_after_s is not None:
            args += ["--release-visits-after", str(self.release_visits_after_s)]
        return args
