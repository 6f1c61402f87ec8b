"""Run the local LLM provider in a subprocess; helpers for its admin endpoints.

Built on :class:`convoload.servers.ServerProcess`, so it works in gevent-patched processes too.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping
from typing import Any, Self

import httpx

from convoload.servers import ManagedServer
from convoload_demo.llmserver.settings import LLMServerSettings

_ADMIN_TIMEOUT_S = 10.0


class LocalLLMServer(ManagedServer):
    """Context manager owning one ``python -m convoload_demo.llmserver`` subprocess.

    >>> with LocalLLMServer(LLMServerSettings(api_key="k")) as llm:  # doctest: +SKIP
    ...     client = openai.OpenAI(base_url=llm.base_url, api_key="k")
    """

    module = "convoload_demo.llmserver"
    label = "local LLM server"

    def __init__(
        self,
        settings: LLMServerSettings | Mapping[str, Any] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout_s: float | None = None,
        python: str | None = None,
    ) -> None:
        super().__init__(
            LLMServerSettings.model_validate(settings or {}),
            host=host,
            port=port,
            startup_timeout_s=startup_timeout_s,
            python=python,
        )
        self._script_path: str | None = None

    @property
    def base_url(self) -> str:
        """What an OpenAI client takes as ``base_url``."""
        return self.url + "/v1"

    @property
    def chat_url(self) -> str:
        return self.base_url + "/chat/completions"

    def _settings_args(self) -> list[str]:
        return self.settings.cli_args(self._script_path)

    def start(self) -> Self:
        # The script goes through a file: it can be large, and this exercises the --script flag.
        fd, self._script_path = tempfile.mkstemp(prefix="convoload-llm-script-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(self.settings.script.model_dump(mode="json"), handle)
        try:
            return super().start()
        except BaseException:
            self._remove_script_file()
            raise

    def stop(self) -> None:
        super().stop()
        self._remove_script_file()

    def _remove_script_file(self) -> None:
        if self._script_path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._script_path)
            self._script_path = None

    # -- admin ---------------------------------------------------------------------------------------

    def _admin(self, method: str, path: str, body: Any = None) -> Any:
        # trust_env=False: loopback only, never through an ambient HTTP proxy.
        with httpx.Client(trust_env=False, timeout=_ADMIN_TIMEOUT_S) as client:
            response = client.request(method, self.url + path, json=body)
        if response.status_code == 422:
            raise ValueError(response.json()["error"]["message"])
        response.raise_for_status()
        return response.json()

    def set_script(self, script: Mapping[str, Any]) -> dict[str, Any]:
        """Replace the script (faults and canned positions restart); ``ValueError`` when it is invalid."""
        return self._admin("PUT", "/admin/script", dict(script))["script"]

    def requests(self) -> list[dict[str, Any]]:
        """Every chat request received since the last reset, in order (never the API key itself)."""
        return self._admin("GET", "/admin/requests")["requests"]

    def reset(self) -> None:
        """Forget requests, pending faults, cached prompt prefixes and canned positions."""
        self._admin("POST", "/admin/reset")
