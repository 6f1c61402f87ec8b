"""Headless Chromium driven over the DevTools protocol on a pipe, for pages that change while open.

tests/browser.py dumps a page's DOM once (virtual time); Locust's web UI redraws its tables from its
own polling while a test runs, so these tests keep one page open and read it again and again
(`--remote-debugging-pipe`: the protocol's JSON messages, NUL-terminated, on file descriptors 3 and 4
of the browser; no port, no extra library).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import subprocess
from pathlib import Path
from typing import Any

from tests.browser import CHROMIUM

_TIMEOUT_S = 30.0


class DevToolsError(AssertionError):
    pass


class Chromium:
    def __init__(self, profile: Path) -> None:
        # Our ends of two pipes, and the browser's, moved above 9 so that putting the browser's at 3
        # and 4 in the child cannot overwrite one another.
        to_browser_r, to_browser_w = os.pipe()
        from_browser_r, from_browser_w = os.pipe()
        ends = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_browser_r, from_browser_w)]
        for fd in (to_browser_r, from_browser_w):
            os.close(fd)
        child_in, child_out = ends

        def at_3_and_4() -> None:
            os.dup2(child_in, 3)
            os.dup2(child_out, 4)

        self.process = subprocess.Popen(
            [
                CHROMIUM or "chromium",
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--remote-debugging-pipe",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            pass_fds=(3, 4),
            preexec_fn=at_3_and_4,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(child_in)
        os.close(child_out)
        self._out, self._in = to_browser_w, from_browser_r
        self._buffer = b""
        self._next_id = 0
        self.session: str | None = None

    def call(self, method: str, params: dict[str, Any] | None = None, *, session: bool = True) -> Any:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session and self.session is not None:
            message["sessionId"] = self.session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" in self._buffer:
                raw, _, self._buffer = self._buffer.partition(b"\0")
                answer = json.loads(raw)
                if answer.get("id") == self._next_id:
                    if "error" in answer:
                        raise DevToolsError(f"{method}: {answer['error']}")
                    return answer.get("result", {})
            ready, _, _ = select.select([self._in], [], [], _TIMEOUT_S)
            if not ready:
                raise DevToolsError(f"{method}: no answer from the browser within {_TIMEOUT_S:g} s")
            chunk = os.read(self._in, 1 << 16)
            if not chunk:
                raise DevToolsError(f"{method}: the browser closed its pipe")
            self._buffer += chunk

    def open(self, url: str) -> None:
        """One tab, attached; later calls go to it."""
        target = self.call("Target.createTarget", {"url": url}, session=False)["targetId"]
        attached = self.call("Target.attachToTarget", {"targetId": target, "flatten": True}, session=False)
        self.session = attached["sessionId"]

    def go(self, url: str) -> None:
        self.call("Page.navigate", {"url": url})

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the open tab (None while it throws: still loading)."""
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            return None
        return result["result"].get("value")

    def capture(self, path: Path, *, width: int = 1280, height: int = 800) -> Path:
        """A PNG of the open tab at this size, written to `path`."""
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", {"format": "png"})["data"]))
        return path

    def close(self) -> None:
        with contextlib.suppress(DevToolsError, OSError):
            self.call("Browser.close", session=False)
        try:
            self.process.wait(timeout=_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=_TIMEOUT_S)
        os.close(self._out)
        os.close(self._in)
