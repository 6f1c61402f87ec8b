"""Run the dashboard in a subprocess and wait for its ``READY`` line; the token travels by environment."""

from __future__ import annotations

from convoload.monitor.dashboard.settings import STORE_URL_ENV, TOKEN_ENV
from convoload.servers import ManagedServer


class DashboardServer(ManagedServer):
    """Context manager owning one ``python -m convoload.monitor.dashboard`` subprocess.

    >>> with DashboardServer(DashboardSettings(store_url=url, runs_root=runs)) as server:  # doctest: +SKIP
    ...     httpx.get(server.url + "/api/status")
    """

    module = "convoload.monitor.dashboard"
    label = "monitor dashboard"

    def _env(self) -> dict[str, str]:
        # Always set, even empty: a token in this process' environment must not leak into a
        # dashboard whose settings say it has none. The store URL may hold a database password.
        return {TOKEN_ENV: self.settings.token or "", STORE_URL_ENV: self.settings.store_url}
