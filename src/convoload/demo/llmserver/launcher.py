"""Run the local LLM provider in a subprocess; helpers for its admin endpoints.

Built on :class:`convoload.demo.process.ServerProcess`, so it works in gevent-patched processes too.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import httpx

from convoload.demo.llmserver.settings import LLMServerSettings
from convoload.demo.process import ServerProcess

_MODULE = "convoload.demo.llmserver"
_ADMIN_TIMEOUT_S = 10.0


class LocalLLMServer:
    """Context manager owning one ``python -m convoload.demo.llmserver`` subprocess.

    >>> with LocalLLMServer(LLMServerSettings(api_key="k")) as llm:  # doctest: +SKIP
    ...     client = openai.OpenAI(base_url=llm.base_url, api_key="k")
    """

    def __init__(
        self,
        settings: LLMServerSettings | Mapping[str, Any] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout_s: float = 20.0,
        python: str | None = None,
    ) -> None:
        self.settings = LLMServerSettings.model_validate(settings or {})
        self.host = host
        self.port = port
        self.startup_timeout_s = startup_timeout_s
        self.python = python or sys.executable
        self._server: ServerProcess | None = None
        self._script_path: str | None = None

    # -- addresses -----------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("LocalLLMServer is not running")
        return self._server.url

    @property
    def base_url(self) -> str:
        """What an OpenAI client takes as ``base_url``."""
        return self.url + "/v1"

    @property
    def chat_url(self) -> str:
        return self.base_url + "/chat/completions"

    @property
    def health_url(self) -> str:
        return self.url + "/health"

    @property
    def pid(self) -> int | None:
        return self._server.pid if self._server else None

    # -- lifecycle -----------------------------------------------------------------------------------

    def start(self) -> LocalLLMServer:
        if self._server is not None:
            raise RuntimeError("LocalLLMServer already started")
        # The script goes through a file: it can be large, and this exercises the --script flag.
        fd, self._script_path = tempfile.mkstemp(prefix="convoload-llm-script-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(self.settings.script.model_dump(mode="json"), handle)
        args = ["--host", self.host, "--port", str(self.port), *self.settings.cli_args(self._script_path)]
        server = ServerProcess(
            _MODULE,
            args,
            name="local LLM server",
            startup_timeout_s=self.startup_timeout_s,
            python=self.python,
        )
        try:
            server.start()
        except BaseException:
            self._remove_script_file()
            raise
        self._server = server
        return self

    def stderr_text(self) -> str:
        return self._server.stderr_text() if self._server else ""

    def stop(self) -> None:
        """SIGTERM, wait up to 5 s, then SIGKILL; safe to call more than once."""
        if self._server is not None:
            self._server.stop()
        self._server = None
        self._remove_script_file()

    def _remove_script_file(self) -> None:
        if self._script_path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._script_path)
            self._script_path = None

    def __enter__(self) -> LocalLLMServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

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
