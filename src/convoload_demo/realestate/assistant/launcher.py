"""Run the real-estate chat assistant in a subprocess and wait for its ``READY`` line."""

from __future__ import annotations

from convoload.servers import ManagedServer
from convoload_demo.realestate.assistant.settings import AssistantSettings


class AssistantServer(ManagedServer):
    """Context manager owning one ``python -m convoload_demo.realestate.assistant`` subprocess.

    >>> with AssistantServer(AssistantSettings(catalog_url=catalog.url)) as server:  # doctest: +SKIP
    ...     httpx.post(server.chat_url, json={"session_id": "s1", "message": "oi"})
    """

    module = "convoload_demo.realestate.assistant"
    label = "real-estate assistant"
    settings_type = AssistantSettings
    default_startup_timeout_s = 30.0

    @property
    def chat_url(self) -> str:
        return self.url + "/api/chat"
