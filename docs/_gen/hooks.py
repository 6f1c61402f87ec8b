"""MkDocs hooks: the reference pages are generated from the code at build time, never copied by hand.

A page asks for generated content with a marker line, `<!-- gen:NAME -->`, replaced when the site is
built (the markers are listed in GENERATORS). The test markers of code blocks (```bash run,
```yaml config ..., see docs/contributing.md) are stripped before the page is rendered, so readers
see plain code blocks. The JSON Schemas are published next to the pages under schema/.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

SRC = Path(__file__).resolve().parents[2] / "src" / "convoload"
MARKER = re.compile(r"^<!-- gen:([a-z-]+) -->$", re.MULTILINE)
# ```bash run, ```yaml config, ```python norun reason="..." -> ```bash, ```yaml, ```python
FENCE_MARK = re.compile(
    r"^(\s*`{3,}[A-Za-z0-9_+-]+)[ \t]+(?:run|exec|config|monitor|persona|norun)\b[^\n]*$", re.M
)


# -- the command line ----------------------------------------------------------------------------------


def cli_reference() -> str:
    """Every command's --help as convoload prints it, groups first-level then their commands, pack
    commands (entry points `convoload.commands`) named with the package that installs them."""
    import typer.main

    from convoload.cli import app

    packs = {
        ep.name: ep.dist.name if ep.dist else ep.value
        for ep in importlib.metadata.entry_points(group="convoload.commands")
    }
    root = typer.main.get_command(app)
    root_ctx = root.make_context("convoload", [], resilient_parsing=True, max_content_width=100)
    root_ctx.terminal_width = 100
    out = ["## convoload", "", "```text", root.get_help(root_ctx).rstrip(), "```", ""]

    def walk(command: Any, ctx: Any, depth: int) -> None:
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            sub_ctx = sub.make_context(name, [], parent=ctx, resilient_parsing=True)
            path = sub_ctx.command_path
            out.extend(["#" * min(depth, 4) + f" {path}", ""])
            if depth == 2 and name in packs:
                out.extend(
                    [f"Installed by the `{packs[name]}` package (entry point `convoload.commands`).", ""]
                )
            out.extend(["```text", sub.get_help(sub_ctx).rstrip(), "```", ""])
            if hasattr(sub, "list_commands"):
                walk(sub, sub_ctx, depth + 1)

    walk(root, root_ctx, 2)
    return "\n".join(out)


# -- the config files ------------------------------------------------------------------------------------


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref:
        return schema["$defs"][ref.rsplit("/", 1)[1]]
    return node


def _type_of(schema: dict[str, Any], node: dict[str, Any]) -> str:
    if "$ref" in node:
        return "object"
    if "enum" in node:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in node["enum"])
    if "const" in node:
        return f"`{json.dumps(node['const'])}`"
    if "anyOf" in node:
        return " \\| ".join(dict.fromkeys(_type_of(schema, n) for n in node["anyOf"]))
    kind = node.get("type")
    if kind == "array":
        return f"list of {_type_of(schema, node.get('items', {}))}"
    if kind == "object" and isinstance(node.get("additionalProperties"), dict):
        return f"map of {_type_of(schema, node['additionalProperties'])}"
    if kind is None:
        return "any"
    return "null" if kind == "null" else kind


def _limits(node: dict[str, Any]) -> str:
    parts = []
    for key, sign in (
        ("minimum", "≥"),
        ("exclusiveMinimum", ">"),
        ("maximum", "≤"),
        ("exclusiveMaximum", "<"),
    ):
        for branch in [node, *node.get("anyOf", [])]:
            if key in branch:
                parts.append(f"{sign} {branch[key]}")
    if "minItems" in node:
        parts.append(f"at least {node['minItems']} item(s)")
    return ", ".join(dict.fromkeys(parts))


def _cell(text: str) -> str:
    """One table cell: one line, pipes escaped, and <placeholders> shown rather than read as HTML."""
    text = " ".join(text.split()).replace("|", "\\|")
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _nested(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any] | None:
    """The object schema a field holds (directly, optionally, or as list items), if any."""
    for branch in [node, *node.get("anyOf", [])]:
        if "$ref" in branch:
            return _resolve(schema, branch)
        if branch.get("type") == "array" and "$ref" in branch.get("items", {}):
            return _resolve(schema, branch["items"])
    return None


def _table(schema: dict[str, Any], obj: dict[str, Any], path: str, sections: list[str], level: int) -> None:
    required = set(obj.get("required", []))
    rows, later = [], []
    for name, node in obj.get("properties", {}).items():
        key = f"{path}.{name}" if path else name
        nested = _nested(schema, node)
        is_list = node.get("type") == "array" or any(b.get("type") == "array" for b in node.get("anyOf", []))
        shown = f"{key}[]" if nested is not None and is_list else key
        default = (
            "(required)" if name in required else f"`{json.dumps(node.get('default'), ensure_ascii=False)}`"
        )
        if "default" not in node and name not in required:
            default = ""
        description = _cell(node.get("description", ""))
        limits = _limits(node)
        if limits:
            description = f"{description} ({limits})" if description else limits
        if nested is not None:
            anchor = shown.replace(".", "").replace("[]", "")
            see = f"See [`{shown}`](#{anchor})."
            description = f"{description.rstrip('.')}. {see}" if description else see
            later.append((shown, nested))
        rows.append(f"| `{name}` | {_type_of(schema, node)} | {default} | {description} |")
    heading = "#" * level
    if path:
        sections.extend([f"{heading} `{path}`", ""])
    if obj.get("description") and path:
        sections.extend([_cell(obj["description"]), ""])
    if obj.get("additionalProperties") is True:
        sections.extend(["Other keys are allowed here (see below).", ""])
    if rows:
        sections.extend(["| key | type | default | description |", "|---|---|---|---|", *rows, ""])
    for branch in obj.get("allOf", []):
        condition = branch["if"]
        agents = [
            c["properties"]["agent"]["const"]
            for c in condition.get("anyOf", [condition])
            if "properties" in c
        ]
        options = {k: v for k, v in branch["then"]["properties"].items() if k != "agent"}
        title = f"{path} with agent: {agents[0]}" + (" (the default)" if "anyOf" in condition else "")
        sections.extend([f"{'#' * min(level + 1, 4)} {title}", ""])
        _table(schema, {"properties": options}, "", sections, level + 1)
    for key, nested in later:
        _table(schema, nested, key.replace("[]", ""), sections, min(level + (1 if path else 0), 4))


def config_reference(kind: str) -> str:
    from convoload import schema as schemas

    schema = schemas.schema(kind)
    sections: list[str] = []
    top = {"properties": {}, "required": schema.get("required", [])}
    objects = []
    for name, node in schema["properties"].items():
        nested = _nested(schema, node)
        if nested is not None and node.get("type") != "array" and "$ref" in node:
            objects.append((name, nested))
        else:
            top["properties"][name] = node
    if top["properties"]:
        sections.extend(["### top level", ""])
        _table(schema, top, "", sections, 3)
    for name, nested in objects:
        _table(schema, nested, name, sections, 3)
    return "\n".join(sections)


# -- the Python API -------------------------------------------------------------------------------------


def api_reference() -> str:
    """One mkdocstrings block per name of `convoload.__all__`, grouped as `_EXPORTS` groups them."""
    import convoload

    text = (SRC / "__init__.py").read_text(encoding="utf-8")
    body = text[text.index("_EXPORTS = {") : text.index("\n}\n", text.index("_EXPORTS = {"))]
    out: list[str] = []
    seen = set()
    for line in body.splitlines()[1:]:
        line = line.strip()
        if line.startswith("#"):
            out.extend([f"## {line.lstrip('# ').split(' (')[0].capitalize()}", ""])
            continue
        found = re.match(r'"(\w+)": "([\w.]+)"', line)
        if found and found.group(1) in convoload.__all__:
            name, module = found.groups()
            seen.add(name)
            out.extend([f"::: {module}.{name}", ""])
    missing = sorted(set(convoload.__all__) - seen)
    if missing:
        raise RuntimeError(f"convoload.__all__ names not in _EXPORTS: {missing}")
    return "\n".join(out)


# -- kinds and trees from the source ----------------------------------------------------------------


def enum_table(module: str, cls: str) -> str:
    """A StrEnum's values with the comment its source gives each."""
    path = SRC.joinpath(*module.split(".")[1:]).with_suffix(".py")
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    node = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls)
    lines = source.splitlines()
    rows = ["| value | meaning |", "|---|---|"]
    for item in node.body:
        if isinstance(item, ast.Assign) and isinstance(item.value, ast.Constant):
            line = lines[item.lineno - 1]
            comment = line.split("#", 1)[1].strip() if "#" in line else ""
            rows.append(f"| `{item.value.value}` | {_cell(comment)} |")
    return "\n".join(rows)


def error_tree() -> str:
    import convoload.errors

    doc = convoload.errors.__doc__ or ""
    tree = doc.split("\n\n")[1]
    return "```text\n" + "\n".join(line[4:] for line in tree.splitlines()) + "\n```"


def events_reference() -> str:
    """One mkdocstrings block per event type `convoload.events` exports."""
    import convoload.events

    # Events are dataclasses whose fields carry no docstrings: show them all the same.
    options = "    options:\n      show_if_no_docstring: true\n      show_bases: true"
    return "\n\n".join(f"::: convoload.events.{name}\n{options}" for name in convoload.events.__all__)


def monitor_metrics() -> str:
    """What `/metrics` exports: the monitor's catalog, then what the dashboard derives from the store."""
    from convoload.monitor.catalog import CATALOG
    from convoload.monitor.dashboard.exposition import EXTRA_METRICS

    rows = ["| metric | type | labels | meaning |", "|---|---|---|---|"]
    for info in [*CATALOG.values(), *EXTRA_METRICS.values()]:
        labels = ", ".join(f"`{label}`" for label in info.labels)
        rows.append(f"| `{info.name}` | {info.kind} | {labels} | {_cell(info.help)} |")
    return "\n".join(rows)


def slo_metrics() -> str:
    from convoload.model.capacity import JUDGE_SLO_METRICS, SLO_METRICS

    rows = ["| metric | what it measures over a step | checked |", "|---|---|---|"]
    for name, meaning in SLO_METRICS.items():
        when = "after the run, on every step" if name in JUDGE_SLO_METRICS else "during the step"
        rows.append(f"| `{name}` | {_cell(meaning)} | {when} |")
    return "\n".join(rows)


GENERATORS: dict[str, Callable[[], str]] = {
    "events": events_reference,
    "monitor-metrics": monitor_metrics,
    "slo-metrics": slo_metrics,
    "cli": cli_reference,
    "config": lambda: config_reference("run"),
    "monitor-config": lambda: config_reference("monitor"),
    "api": api_reference,
    "error-kinds": lambda: enum_table("convoload.model.records", "ErrorKind"),
    "outcomes": lambda: enum_table("convoload.model.records", "Outcome"),
    "simulator-faults": lambda: enum_table("convoload.model.records", "SimulatorFault"),
    "error-tree": error_tree,
}


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    markdown = FENCE_MARK.sub(r"\1", markdown)

    def generate(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in GENERATORS:
            raise KeyError(f"{page.file.src_uri}: unknown generated section <!-- gen:{name} -->")
        return GENERATORS[name]()

    return MARKER.sub(generate, markdown)


def on_files(files: Files, config: Any) -> Files:
    """The schemas, published at schema/config.json and schema/monitor.json on the site."""
    from convoload import schema

    for kind, name in (("run", "config"), ("monitor", "monitor")):
        files.append(File.generated(config, f"schema/{name}.json", content=schema.dump(kind)))
    return files
