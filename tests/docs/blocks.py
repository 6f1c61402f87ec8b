"""The fenced code blocks of the docs, with the info-string convention that says how each is checked.

```LANG MARK [key=value ...]: MARK is one of MARKS (docs/contributing.md explains each); `file=NAME`
writes the block to NAME in the page's folder; `expect=N` is a command's exit code; `serve=PORT` starts
it in the background until PORT answers; `reason="..."` says why a `norun` block is not run. A block whose
body is only `--8<-- "path"` is that file of the repository (pymdownx.snippets includes it on the site).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"

# Languages whose blocks show a command, a config or code: each must say how it is checked.
CHECKED_LANGUAGES = {"bash", "sh", "shell", "console", "yaml", "yml", "python"}
MARKS = {
    "bash": {"run", "norun"},
    "sh": {"run", "norun"},
    "shell": {"run", "norun"},
    "console": {"run", "norun"},
    "yaml": {"config", "monitor", "persona", "broken", "norun"},
    "yml": {"config", "monitor", "persona", "broken", "norun"},
    "python": {"exec", "norun"},
}
OPTIONS = {"file", "expect", "serve", "reason"}
_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,})(?P<lang>[A-Za-z0-9_+-]*)[ \t]*(?P<rest>[^`\n]*)$")
_SNIPPET = re.compile(r'^--8<-- "(?P<path>[^"]+)"$')


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    lang: str
    mark: str  # "" when the block says nothing
    options: dict[str, str] = field(default_factory=dict)
    body: str = ""

    @property
    def where(self) -> str:
        page = self.page.relative_to(REPO) if self.page.is_relative_to(REPO) else self.page
        return f"{page}:{self.line}"

    @property
    def checked(self) -> bool:
        return self.lang in CHECKED_LANGUAGES

    def __str__(self) -> str:  # the id pytest shows
        return self.where


def blocks_of(page: Path) -> list[Block]:
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opened = _OPEN.match(lines[i])
        if not opened:
            i += 1
            continue
        indent, fence = opened["indent"], opened["fence"]
        end = i + 1
        while end < len(lines) and not (
            lines[end].startswith(indent + fence) and lines[end].strip().strip("`") == ""
        ):
            end += 1
        body_lines = [line.removeprefix(indent) for line in lines[i + 1 : end]]
        words = shlex.split(opened["rest"])
        mark = words[0] if words and "=" not in words[0] else ""
        options = dict(word.split("=", 1) for word in words[1 if mark else 0 :] if "=" in word)
        body = "\n".join(body_lines) + "\n"
        snippet = _SNIPPET.match(body.strip())
        if snippet:
            body = (REPO / snippet["path"]).read_text(encoding="utf-8")
        found.append(Block(page, i + 1, opened["lang"].lower(), mark, options, body))
        i = end + 1
    return found


def doc_pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if "_gen" not in p.parts)


def all_blocks(*, with_readme: bool = True) -> list[Block]:
    """Every block of the docs pages, and the README's marked ones (the README may show unmarked ones)."""
    found = [b for page in doc_pages() for b in blocks_of(page)]
    if with_readme:
        found += [b for b in blocks_of(REPO / "README.md") if b.mark]
    return found


def problems_of(block: Block) -> list[str]:
    """What is wrong with a block's marks (empty: it says how it is checked)."""
    if not block.checked:
        return []
    marks = MARKS[block.lang]
    if block.mark not in marks:
        return [
            f"{block.where}: ```{block.lang} needs one of {', '.join(sorted(marks))} (got {block.mark!r})"
        ]
    out = [f"{block.where}: unknown option {key}=" for key in block.options if key not in OPTIONS]
    if block.mark == "norun" and not block.options.get("reason", "").strip():
        out.append(f'{block.where}: a norun block says why: reason="..."')
    name = block.options.get("file")
    if name is not None and (Path(name).is_absolute() or ".." in Path(name).parts):
        out.append(f"{block.where}: file={name} must stay in the page's folder")
    return out
