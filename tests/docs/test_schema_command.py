"""`convoload config schema` prints the JSON Schema editors and the docs use, generated from the models."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml

from convoload import schema
from convoload.config import Config, load_config
from tests.helpers import error_line, invoke, write


def test_the_command_prints_the_config_schema() -> None:
    ran = invoke("config", "schema")
    assert ran.returncode == 0, ran.stderr
    printed = json.loads(ran.stdout)
    assert printed == schema.schema("run")
    jsonschema.Draft202012Validator.check_schema(printed)
    assert printed["$schema"] == schema.DIALECT
    assert printed["additionalProperties"] is False
    # Every section of the model, and nothing the loader sets itself (where the file is).
    assert set(printed["properties"]) == {n for n, f in Config.model_fields.items() if not f.exclude}
    assert "source" not in printed["properties"] and "base_dir" not in printed["properties"]


def test_the_monitor_schema_is_the_monitor_configs() -> None:
    ran = invoke("config", "schema", "monitor")
    assert ran.returncode == 0, ran.stderr
    printed = json.loads(ran.stdout)
    assert "schedule" in printed["properties"] and "alerting" in printed["properties"]
    assert printed == schema.schema("monitor")


def test_an_unknown_kind_is_one_line_and_exit_2() -> None:
    assert "'bogus' is not one of run, monitor" in error_line(invoke("config", "schema", "bogus"))


def test_a_config_the_loader_accepts_the_schema_accepts(tmp_path: Path) -> None:
    """The schema is no stricter than the loader on a config using every section."""
    text = """
run: {conversations: 3, concurrency: 2, seed: 1, persona_assignment: round_robin}
personas: [kataryna]
user: {type: llm, llm: local/persona}
llm: {providers: [{name: ollama, model: "gemma3n:e2b"}], retries: 1}
hooks: {disabled: [fast_responses], thresholds: {slow_responses: {seconds: 3}}}
store: {enabled: false}
goal: {type: regex, pattern: "pay"}
target:
  type: demo
  demo: {agent: realestate, listings: 500, brain: rules}
  receiver: {port: 0, signature: null}
capacity: {steps: [1, 2, 4], slos: ["p95_turn_s<=8"]}
judge: {enabled: true, rubric: realestate}
"""
    load_config(write(tmp_path / "every.yaml", text))
    errors = list(jsonschema.Draft202012Validator(schema.schema("run")).iter_errors(yaml.safe_load(text)))
    assert errors == []
