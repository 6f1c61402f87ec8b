"""JSON Schemas of the YAML files convoload reads, generated from the pydantic models that validate them.

`convoload config schema` prints them, so an editor with the YAML language server completes and
checks keys (`# yaml-language-server: $schema=convoload.schema.json` at the top of a config), and
the docs site's config reference is built from them. The models stay the authority: the schema is
what an editor can check without running code (placeholders, rubric files, store URLs are still
checked when convoload loads the file).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

# The JSON Schema dialect pydantic generates.
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _models() -> dict[str, tuple[type[BaseModel], str]]:
    from convoload.config import Config
    from convoload.monitor.config import MonitorConfig

    return {
        "run": (Config, "convoload config: run, stress, capacity, converse, demo, locust"),
        "monitor": (MonitorConfig, "convoload monitor config"),
    }


KINDS = ("run", "monitor")


def schema(kind: str = "run") -> dict[str, Any]:
    """The JSON Schema of a `kind` file: `run` (a convoload config) or `monitor` (the monitor's)."""
    models = _models()
    if kind not in models:
        raise ValueError(f"unknown kind {kind!r} (one of {', '.join(KINDS)})")
    model, title = models[kind]
    document = model.model_json_schema(mode="validation")
    for name, field in model.model_fields.items():
        if field.exclude:  # set by the loader (where the file is), never written in a file
            document["properties"].pop(name, None)
    document["title"] = title
    if kind == "run":
        _bundled_options(document)
    return {"$schema": DIALECT, **document}


def _bundled_options(document: dict[str, Any]) -> None:
    """target.demo takes the options of the bundled system its `agent` names: one `if`/`then` per
    installed system, so an editor checks them as the loader does (`agent` absent means tickets)."""
    from convoload.bundled import BUNDLED

    demo = document["$defs"].get("DemoConfig")
    if demo is None:
        return
    default_agent = demo["properties"]["agent"].get("default")
    branches: list[dict[str, Any]] = []
    for name in BUNDLED.names():
        try:
            system = BUNDLED.get(name)
        except KeyError:  # a pack that cannot be loaded: its options stay unchecked here
            continue
        if not system.agent:  # a helper system (the local LLM provider), not a target
            continue
        options = system.options.model_json_schema(mode="validation")
        for key, definition in options.pop("$defs", {}).items():
            document["$defs"].setdefault(key, definition)
        properties = {"agent": demo["properties"]["agent"], **options.get("properties", {})}
        names: dict[str, Any] = {"const": name}
        condition: dict[str, Any] = {"properties": {"agent": names}, "required": ["agent"]}
        if name == default_agent:
            condition = {"anyOf": [condition, {"not": {"required": ["agent"]}}]}
        branches.append({"if": condition, "then": {"properties": properties, "additionalProperties": False}})
    if branches:
        demo["allOf"] = branches


def dump(kind: str = "run") -> str:
    """The schema as JSON text, keys in the models' order."""
    return json.dumps(schema(kind), indent=2, ensure_ascii=False) + "\n"
