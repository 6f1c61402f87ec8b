"""What the dashboard process needs to know; the token never goes on a command line."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

TOKEN_ENV = "CONVOLOAD_DASHBOARD_TOKEN"
STORE_URL_ENV = "CONVOLOAD_DASHBOARD_STORE_URL"  # by environment: the URL may hold a password


@dataclass(frozen=True)
class DashboardSettings:
    store_url: str
    runs_root: Path  # job reports are served only from under this folder
    token: str | None = None  # when set, every route but /health needs it
    refresh_s: float = 15.0  # the page polls /api/status this often
    title: str = "convoload monitor"
    stale_after_s: float = 300.0  # newest sample older than this: the data is stale
    trend_hours: float = 24.0  # span of the page's trend charts

    def __post_init__(self) -> None:
        if self.refresh_s <= 0 or self.stale_after_s <= 0 or self.trend_hours <= 0:
            raise ValueError("refresh_s, stale_after_s and trend_hours must be > 0")
        if self.token == "":
            object.__setattr__(self, "token", None)  # an empty variable is no token, not an empty one
        object.__setattr__(self, "runs_root", Path(self.runs_root))

    def cli_args(self) -> list[str]:
        """Flags for `python -m convoload.monitor.dashboard` (all but the token and the store URL)."""
        return [
            "--runs-root",
            str(self.runs_root),
            "--refresh",
            repr(self.refresh_s),
            "--title",
            self.title,
            "--stale-after",
            repr(self.stale_after_s),
            "--trend-hours",
            repr(self.trend_hours),
        ]


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # any other name may resolve to a public interface
