"""Every command and config the docs show is run or validated, so the docs cannot drift from the code.

The convention (an info string after the block's language, docs/contributing.md "The docs"):
```bash run (expect=N, serve=PORT), ```yaml config | monitor | persona | broken (refused when
loaded), ```python exec, and ```LANG norun reason="..." for what cannot run here (an API key,
Kubernetes, a server until Ctrl-C);
`file=NAME` writes the block into the page's folder first. The pages' commands run in a temporary folder
per page, in page order, with the installed `convoload`; configs are checked against the JSON Schema
`convoload config schema` prints. The example files of examples/ are checked against it here too.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from convoload import schema
from tests.docs.blocks import REPO, Block, all_blocks, blocks_of, doc_pages, problems_of
from tests.helpers import wait_until

BLOCKS = all_blocks()
SCHEMAS = {kind: jsonschema.Draft202012Validator(schema.schema(kind)) for kind in schema.KINDS}
COMMAND_TIMEOUT_S = 300


def _schema_errors(kind: str, text: str) -> list[str]:
    document = yaml.safe_load(text)
    document = {} if document is None else document
    return [
        f"{'.'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
        for e in SCHEMAS[kind].iter_errors(document)
    ]


# -- the convention itself -----------------------------------------------------------------------------


def test_every_command_config_and_code_block_says_how_it_is_checked() -> None:
    problems = [problem for block in BLOCKS for problem in problems_of(block)]
    assert not problems, "\n".join(problems)
    assert sum(b.mark == "run" for b in BLOCKS) >= 10, "the docs run their commands"


def test_the_parser_reads_marks_options_and_snippets(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# t\n\n```bash run expect=2\nconvoload run -f x.yaml\n```\n\n"
        '  ```yaml norun reason="a manifest" file=k.yaml\n  kind: Pod\n  ```\n\n'
        '```yaml config\n--8<-- "examples/python-target.yaml"\n```\n\n```text\nplain\n```\n',
        encoding="utf-8",
    )
    run, manifest, included, text = blocks_of(page)
    assert (run.lang, run.mark, run.options, run.body, run.line) == (
        "bash",
        "run",
        {"expect": "2"},
        "convoload run -f x.yaml\n",
        3,
    )
    assert (manifest.mark, manifest.options) == ("norun", {"reason": "a manifest", "file": "k.yaml"})
    assert manifest.body == "kind: Pod\n"  # the list item's indent is not part of the block
    assert included.body == (REPO / "examples/python-target.yaml").read_text(encoding="utf-8")
    assert not text.checked
    assert problems_of(Block(page, 1, "yaml", "")) and problems_of(Block(page, 1, "bash", "norun"))


# -- configs against the schema ---------------------------------------------------------------------------

SCHEMA_BLOCKS = [b for b in BLOCKS if b.mark in ("config", "monitor")]


@pytest.mark.parametrize("block", SCHEMA_BLOCKS, ids=str)
def test_a_config_block_matches_the_schema(block: Block) -> None:
    errors = _schema_errors("monitor" if block.mark == "monitor" else "run", block.body)
    assert not errors, f"{block.where}: " + "; ".join(errors)


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.mark == "broken"], ids=str)
def test_a_broken_config_block_is_refused_when_loaded(block: Block, tmp_path: Path) -> None:
    """A config the docs show wrong on purpose: convoload's loader refuses it in one error."""
    from convoload.config import load_config
    from convoload.errors import ConfigError

    path = tmp_path / block.options.get("file", "broken.yaml")
    path.write_text(block.body, encoding="utf-8")
    with pytest.raises(ConfigError):
        load_config(path)


def test_the_schema_refuses_what_the_loader_refuses() -> None:
    """Unknown keys at any depth, wrong types, out-of-range values, and a bundled system's unknown option."""
    assert _schema_errors("run", "runn: {}")
    assert _schema_errors("run", "target: {receiver: {prot: 9000}}")
    assert _schema_errors("run", "run: {max_iterations: 100000}")
    assert _schema_errors("run", "target: {type: carrier-pigeon}")
    assert _schema_errors("run", "target: {demo: {agent: realestate, listings: 50}}")
    assert _schema_errors("run", "target: {demo: {reply_delay_s: 0.1, brain: rules}}")  # tickets: no brain
    assert not _schema_errors("run", "target: {demo: {agent: realestate, brain: rules}}")
    assert _schema_errors("monitor", "schedule: {colect: {}}")
    assert not _schema_errors("run", "")


# -- examples/ --------------------------------------------------------------------------------------------

# YAML files in examples/ that are no convoload file, with why (a persona folder's files are personas).
NOT_CONVOLOAD_FILES = {
    "examples/ci/github-actions.yml": "a GitHub Actions workflow",
    "examples/ci/gitlab-ci.yml": "a GitLab CI pipeline",
}


def _example_files() -> list[Path]:
    return sorted(p for ext in ("*.yaml", "*.yml") for p in (REPO / "examples").rglob(ext))


def _kind_of_example(path: Path, document: Any) -> str:
    """run, monitor or persona: by the keys the file uses (a misspelt key makes it none: a failure)."""
    from convoload.personas.model import Persona

    keys = set(document or {})
    if "personas" in path.relative_to(REPO).parts or (
        keys and "name" in keys and keys <= set(Persona.model_fields)
    ):
        return "persona"
    for kind in schema.KINDS:
        if keys <= set(schema.schema(kind)["properties"]):
            return kind
    raise AssertionError(
        f"{path.relative_to(REPO)}: neither a convoload config, a monitor config nor a persona "
        f"(keys {sorted(keys)}); a misspelt key, or add it to NOT_CONVOLOAD_FILES with why"
    )


@pytest.mark.parametrize("path", _example_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_every_example_file_matches_its_schema(path: Path) -> None:
    name = str(path.relative_to(REPO))
    if name in NOT_CONVOLOAD_FILES:
        return
    text = path.read_text(encoding="utf-8")
    kind = _kind_of_example(path, yaml.safe_load(text))
    if kind == "persona":
        from convoload.personas import load_persona_file

        assert load_persona_file(path).name
        return
    errors = _schema_errors(kind, text)
    assert not errors, f"{name}: " + "; ".join(errors)


# -- personas -------------------------------------------------------------------------------------------


def _write_files(blocks: list[Block], folder: Path) -> None:
    for block in blocks:
        if "file" in block.options:
            target = folder / block.options["file"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.body, encoding="utf-8")


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.mark == "persona"], ids=str)
def test_a_persona_block_loads(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from convoload.personas import load_persona_file
    from convoload.users.factory import check_personas

    # The page's other files first: a persona may name a playbook module the page shows.
    _write_files([b for b in blocks_of(block.page) if b.line < block.line], tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    path = tmp_path / block.options.get("file", "persona.yaml")
    path.write_text(block.body, encoding="utf-8")
    persona = load_persona_file(path)
    assert check_personas([persona]) == [], block.where


# -- commands and code, page by page ----------------------------------------------------------------------

RUN_PAGES = sorted({b.page for b in BLOCKS if b.mark in ("run", "exec")})


def _environment(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVOLOAD_")}  # the docs' defaults
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=str(folder),  # a module a page shows (a suite, a playbook) imports from its folder
        COLUMNS="160",
        CI="true",
    )
    return env


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _expected_errors(block: Block) -> list[list[str]]:
    """The `# error: TEXT` lines of a block, each split on `…` (any text)."""
    return [
        [part.strip() for part in line.strip().removeprefix("# error:").split("…") if part.strip()]
        for line in block.body.splitlines()
        if line.strip().startswith("# error:")
    ]


def _run(block: Block, folder: Path, env: dict[str, str]) -> None:
    if block.lang == "python":
        script = folder / block.options.get("file", f"block_{block.line}.py")
        command = [sys.executable, str(script)]
    else:
        script = folder / f"block_{block.line}.sh"
        expect = int(block.options.get("expect", "0"))
        script.write_text(("set -e\n" if expect == 0 else "") + block.body, encoding="utf-8")
        command = ["bash", str(script)]
    if block.lang == "python" and "file" not in block.options:
        script.write_text(block.body, encoding="utf-8")
    ran = subprocess.run(
        command, cwd=folder, env=env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False
    )
    expect = int(block.options.get("expect", "0"))
    shown = f"{block.where} exited {ran.returncode}:\n{ran.stdout[-2000:]}\n{ran.stderr[-3000:]}"
    assert ran.returncode == expect, shown
    assert "Traceback" not in ran.stderr, shown
    for parts in _expected_errors(block):
        for part in parts:
            assert part in ran.stderr, f"{block.where}: the docs say {part!r}, convoload said:\n{ran.stderr}"


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.parametrize("page", RUN_PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_a_page_runs_as_written(page: Path, tmp_path: Path) -> None:
    env = _environment(tmp_path)
    servers: list[subprocess.Popen[bytes]] = []
    try:
        for block in blocks_of(page):
            if "file" in block.options:
                _write_files([block], tmp_path)
            if block.mark == "exec":
                _run(block, tmp_path, env)
            elif block.mark == "run" and "serve" in block.options:
                port = int(block.options["serve"])
                assert not _port_open(port), f"{block.where}: port {port} is taken before the page starts"
                log = (tmp_path / f"serve_{block.line}.log").open("wb")
                servers.append(
                    subprocess.Popen(
                        ["bash", "-c", "exec " + block.body.strip()],
                        cwd=tmp_path,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
                wait_until(lambda port=port: _port_open(port), f"{block.where}: port {port}", timeout=60)
            elif block.mark == "run":
                _run(block, tmp_path, env)
    finally:
        for server in servers:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)


def test_the_docs_pages_are_all_in_the_navigation() -> None:
    """A page outside the nav is built but unreachable: every page is listed in mkdocs.yml."""
    nav = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    missing = [
        str(p.relative_to(REPO / "docs"))
        for p in doc_pages()
        if f" {p.relative_to(REPO / 'docs')}" not in nav
    ]
    assert not missing, f"pages missing from mkdocs.yml's nav: {missing}"
