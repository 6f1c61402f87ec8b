"""docs/distributed.md's Kubernetes manifests and Compose file, checked offline against their published
schemas (kubernetes-validate ships Kubernetes' JSON schemas; check-jsonschema vendors the Compose
specification's), and the convoload config they mount checked as convoload checks it."""

from __future__ import annotations

import copy
import json
import re
from importlib import resources
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from convoload.config import Config
from tests.helpers import REPO

DOC = REPO / "docs" / "distributed.md"
KUBERNETES = kubernetes_validate.latest_version()


def _yaml_documents(section: str) -> list[dict[str, Any]]:
    """Every YAML document of the doc's ```yaml blocks between `section`'s heading and the next one."""
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"## {section}\n")
    end = text.find("\n## ", start + 1)
    body = text[start : end if end != -1 else len(text)]
    blocks = re.findall(r"^```yaml[^\n]*\n(.*?)^```$", body, re.MULTILINE | re.DOTALL)
    return [doc for block in blocks for doc in yaml.safe_load_all(block) if doc is not None]


def _compose_schema() -> dict[str, Any]:
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads(vendor.joinpath("compose-spec.json").read_text(encoding="utf-8"))


def _by_kind(documents: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["kind"], d["metadata"]["name"]): d for d in documents}


def test_the_kubernetes_manifests_are_valid_for_the_latest_kubernetes() -> None:
    documents = _yaml_documents("Kubernetes")
    for document in documents:
        # strict: an unknown field (a typo) is an error too
        kubernetes_validate.validate(document, KUBERNETES, strict=True)
    kinds = _by_kind(documents)
    assert {("ConfigMap", "convoload-config"), ("Deployment", "convoload-master")} <= set(kinds)
    assert {("Service", "convoload-master"), ("Deployment", "convoload-worker")} <= set(kinds)
    # The master's Service exposes what the workers and the agent call: Locust's RPC and the forwarder.
    ports = {p["port"] for p in kinds["Service", "convoload-master"]["spec"]["ports"]}
    assert {5557, 8090} <= ports
    # Each worker tells the master (and the agent) its pod IP, from the downward API.
    worker = kinds["Deployment", "convoload-worker"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in worker["env"]}
    assert env["POD_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"


def test_a_broken_manifest_is_refused() -> None:
    # The check above can fail: the same worker Deployment with a wrong type and a misspelt field.
    worker = _by_kind(_yaml_documents("Kubernetes"))["Deployment", "convoload-worker"]
    wrong = copy.deepcopy(worker)
    wrong["spec"]["replicas"] = "four"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(wrong, KUBERNETES, strict=True)
    misspelt = copy.deepcopy(worker)
    misspelt["spec"]["template"]["spec"]["containers"][0]["evn"] = []
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(misspelt, KUBERNETES, strict=True)


def test_the_config_map_holds_a_valid_convoload_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAT_CHANNEL_ID", "channel")
    monkeypatch.setenv("CHAT_API_TOKEN", "t0ken-for-validation")
    config_map = _by_kind(_yaml_documents("Kubernetes"))["ConfigMap", "convoload-config"]
    config = Config.model_validate(yaml.safe_load(config_map["data"]["convoload.yaml"]))
    receiver = config.target.receiver
    assert receiver.public_url == "http://{env.POD_IP}:{port}"
    assert receiver.forwarder is not None and receiver.forwarder.port == 8090


def test_the_compose_file_follows_the_compose_specification() -> None:
    (compose,) = _yaml_documents("Docker Compose")
    schema = _compose_schema()
    jsonschema.validate(compose, schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    services = compose["services"]
    assert set(services) == {"master", "worker"}
    assert services["worker"]["deploy"]["replicas"] == 2
    assert "--master-host master" in services["worker"]["command"][0]
    assert "POD_IP=" in services["worker"]["command"][0]  # the address the config's public_url reads
    # and the check can fail: a service with an unknown key is refused
    broken = copy.deepcopy(compose)
    broken["services"]["worker"]["replica"] = 2
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)
