"""The report opened in a real headless Chromium: the DOM the browser built has the charts and transcripts.

Skipped when Debian's `chromium` is not installed (CI installs it for this test).
"""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from convoload.report.html import render_html
from tests.browser import chromium, needs_chromium
from tests.report_html.sample import document, records

CHARTS = {
    "turn-latency",
    "agent-latency",
    "persona-success",
    "agent-transitions",
    "conversation-cost",
    "findings-over-time",
}
SHAPES = {"rect", "circle", "line", "path", "polyline"}

pytestmark = [pytest.mark.browser, needs_chromium]


class _Dom(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.shapes: dict[str, int] = {}
        self.sessions: list[str] = []
        self._chart: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "svg" and a.get("data-chart"):
            self._chart = a["data-chart"]
            self.shapes[self._chart] = 0
        elif self._chart is not None and tag in SHAPES:
            self.shapes[self._chart] += 1
        if tag == "details" and a.get("data-session"):
            self.sessions.append(a["data-session"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._chart = None


def test_chromium_builds_charts_and_transcripts(tmp_path: Path) -> None:
    recs = records()
    page = tmp_path / "report.html"
    page.write_text(render_html(document(recs), recs), encoding="utf-8")
    result = chromium("--dump-dom", page.as_uri(), user_data=tmp_path / "profile")
    assert result.returncode == 0, result.stderr[-2000:]
    dom = _Dom()
    dom.feed(result.stdout)
    assert set(dom.shapes) >= CHARTS, f"charts in the DOM: {sorted(dom.shapes)}"
    for name in CHARTS:
        assert dom.shapes[name] > 0, f"{name} has no drawn shapes"
    assert sorted(dom.sessions) == ["s-failed", "s-interrupted", "s-ok-1", "s-ok-2"]
    # The browser parsed the injected reply as text: only the report's own script element exists.
    assert result.stdout.count("<script") == 1
    assert "&lt;script&gt;alert('pwned')" in result.stdout


def test_chromium_screenshots_the_report(tmp_path: Path) -> None:
    recs = records()
    page = tmp_path / "report.html"
    page.write_text(render_html(document(recs), recs), encoding="utf-8")
    shot = tmp_path / "report.png"
    result = chromium(
        f"--screenshot={shot}", "--window-size=1200,2400", page.as_uri(), user_data=tmp_path / "profile"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
