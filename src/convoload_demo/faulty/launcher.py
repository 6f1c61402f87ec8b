"""Run the faulty target in a subprocess; helpers for its admin endpoints.

Built on :class:`convoload.servers.ManagedServer`, so it works in gevent-patched processes too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from convoload.servers import ManagedServer
from convoload_demo.faulty.plan import Fault
from convoload_demo.faulty.settings import FaultyServerSettings

# Long enough for a flush, which waits for every callback owed (each bounded by callback_timeout_s).
_ADMIN_TIMEOUT_S = 30.0


class FaultyServer(ManagedServer):
    """Context manager owning one ``python -m convoload_demo.faulty`` subprocess.

    >>> settings = FaultyServerSettings(faults=(Fault(kind="status", every=2),))
    >>> with FaultyServer(settings) as target:  # doctest: +SKIP
    ...     httpx.post(target.chat_url, json={"session_id": "s1", "message": "oi"})
    """

    module = "convoload_demo.faulty"
    label = "faulty target"
    settings_type = FaultyServerSettings

    @property
    def chat_url(self) -> str:
        return self.url + "/v1/chat"

    @property
    def widget_url(self) -> str:
        return self.url + "/v1/webhooks/widget"

    # -- admin ---------------------------------------------------------------------------------------

    def _admin(self, method: str, path: str, body: Any = None) -> Any:
        # trust_env=False: loopback only, never through an ambient HTTP proxy.
        with httpx.Client(trust_env=False, timeout=_ADMIN_TIMEOUT_S) as client:
            response = client.request(method, self.url + path, json=body)
        if response.status_code == 422:
            raise ValueError(f"invalid fault plan: {response.json()['detail']}")
        response.raise_for_status()
        return response.json()

    def set_faults(self, faults: Iterable[Fault | Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Replace the fault plan and start counting conversations, turns and injections afresh."""
        plan = [f.model_dump(mode="json") if isinstance(f, Fault) else dict(f) for f in faults]
        return self._admin("POST", "/admin/faults", {"faults": plan})["faults"]

    def stats(self) -> dict[str, Any]:
        """Requests, conversations, injections (each with its session and turn) and callback answers."""
        return self._admin("GET", "/admin/stats")

    def flush(self) -> dict[str, Any]:
        """Send held (late) callbacks now and wait until every callback owed was answered; the stats."""
        return self._admin("POST", "/admin/flush")
