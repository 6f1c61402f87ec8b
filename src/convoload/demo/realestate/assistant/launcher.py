"""Run the real-estate chat assistant in a subprocess and wait for its ``READY`` line."""

from __future__ import annotations

from convoload.demo.process import ManagedServer
from convoload.demo.realestate.assistant.settings import AssistantSettings


class AssistantServer(ManagedServer):
    """Context manager owning one ``python -m convoload.demo.realestate.assistant`` subprocess.

    >>> with AssistantServer(AssistantSettings(catalog_url=catalog.url)) as server:  # doctest: +SKIP
    ...     httpx.post(server.chat_url, json={"session_id": "s1", "message": "oi"})
    """

    module = "convoload.demo.realestate.assistant"
    label = "real-estate assistant"

    def __init__(
        self,
        settings: AssistantSettings | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout_s: float = 30.0,
        python: str | None = None,
    ) -> None:
        super().__init__(host=host, port=port, startup_timeout_s=startup_timeout_s, python=python)
        self.settings = settings or AssistantSettings()

    @property
    def chat_url(self) -> str:
        return self.url + "/api/chat"

    def _args(self) -> list[str]:
        return [*super()._args(), *self.settings.cli_args()]
