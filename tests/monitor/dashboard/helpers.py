"""What the dashboard tests share: the token of a secured dashboard and the settings over a seeded store."""

from __future__ import annotations

from typing import Any

from convoload.monitor.dashboard import DashboardSettings
from tests.monitor.dashboard.sample import Seeded

TOKEN = "s3cret-dashboard-token-Zq9"


def settings_for(data: Seeded, **overrides: Any) -> DashboardSettings:
    # A long stale limit: the seeded samples must read as fresh however slow the machine is.
    values: dict[str, Any] = {"store_url": data.url, "runs_root": data.runs_root, "stale_after_s": 3600.0}
    values.update(overrides)
    return DashboardSettings(**values)
