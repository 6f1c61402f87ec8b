"""Open a page in Debian's headless Chromium and read back the DOM its scripts built.

`--dump-dom` prints the document after the load event and after the virtual-time budget has run
out; virtual time waits for pending fetches, so a page that draws itself from its API is drawn.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else shutil.which("chromium")

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium) - browser check skipped"
)

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def chromium(*args: str, user_data: Path) -> subprocess.CompletedProcess[str]:
    """Debian's headless Chromium with a fresh profile and no background traffic (the network is closed)."""
    return subprocess.run(
        [
            CHROMIUM or "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={user_data}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def dump_dom(url: str, tmp_path: Path, *, budget_ms: int = 15_000) -> str:
    """The serialized DOM of `url` after its scripts ran (a fresh browser profile under tmp_path)."""
    profile = tmp_path / f"chromium-profile-{len(list(tmp_path.glob('chromium-profile-*')))}"
    result = chromium(f"--virtual-time-budget={budget_ms}", "--dump-dom", url, user_data=profile)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def screenshot(
    url: str, tmp_path: Path, name: str, *, size: tuple[int, int] = (1280, 900), budget_ms: int = 5_000
) -> Path:
    """A PNG of `url` as Chromium draws it, saved under tmp_path; also into the folder
    $CONVOLOAD_SCREENS names (docs/assets/screens/ refreshes the docs' pictures), so the docs show
    the pages as the code draws them today."""
    profile = tmp_path / f"chromium-profile-shot-{name}"
    out = tmp_path / f"{name}.png"
    result = chromium(
        "--hide-scrollbars",
        f"--window-size={size[0]},{size[1]}",
        f"--virtual-time-budget={budget_ms}",
        f"--screenshot={out}",
        url,
        user_data=profile,
    )
    assert result.returncode == 0 and out.is_file(), result.stderr[-2000:]
    return keep_screen(out)


def keep_screen(png: Path) -> Path:
    """Checks `png` is a PNG and copies it into $CONVOLOAD_SCREENS when that is set (the docs' pictures)."""
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    keep = os.environ.get("CONVOLOAD_SCREENS")
    if keep:
        folder = Path(keep)
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(png, folder / png.name)
    return png


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    children: list[Element | str] = field(default_factory=list)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self) -> list[Element]:
        found = [self]
        for child in self.children:
            if isinstance(child, Element):
                found.extend(child.iter())
        return found

    def find_all(self, tag: str | None = None, **attrs: str | bool) -> list[Element]:
        """Descendants (and self) matching `tag` and attributes; `data_x=True` means just present."""
        wanted = {k.replace("_", "-"): v for k, v in attrs.items()}
        return [
            e
            for e in self.iter()
            if (tag is None or e.tag == tag)
            and all((k in e.attrs) if v is True else e.attrs.get(k) == v for k, v in wanted.items())
        ]

    def find(self, tag: str | None = None, **attrs: str | bool) -> Element:
        """The single match; fails the test when there is none or more than one."""
        found = self.find_all(tag, **attrs)
        assert len(found) == 1, f"expected one <{tag or '*'} {attrs}>, found {len(found)}"
        return found[0]


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Element(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Element(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse_dom(html: str) -> Element:
    """A small element tree of a dumped DOM, searchable with `find_all` / `find`."""
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root
