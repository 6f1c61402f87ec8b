"""Settings of the property catalog server (kept apart so the launcher does not import FastAPI)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CatalogSettings(BaseModel):
    """Start-up knobs; everything but ``ready_url`` can be given on the command line."""

    model_config = ConfigDict(frozen=True)

    listings: int = Field(10_000, ge=0, description="Listings to generate when the database has none.")
    seed: int = Field(42, description="Seed of the catalog generator: same seed, same catalog.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; None = SQLite file in a temp dir.")
    ready_url: str | None = Field(None, description="When set, print 'READY <url>' once started.")

    def cli_args(self) -> list[str]:
        """Flags for ``python -m convoload.demo.realestate.catalog`` reproducing these settings."""
        args = ["--listings", str(self.listings), "--seed", str(self.seed)]
        if self.database_url:
            args += ["--database-url", self.database_url]
        return args
