"""The Grafana dashboard JSON: importable shape, and only metrics `/metrics` really exposes."""

from __future__ import annotations

import json
import re
from importlib.resources import files
from typing import Any

from convoload.monitor.catalog import CATALOG
from convoload.monitor.dashboard.exposition import EXTRA_METRICS

DASHBOARD = json.loads(
    files("convoload.monitor").joinpath("grafana/convoload-dashboard.json").read_text(encoding="utf-8")
)
METRIC = re.compile(r"\bconvoload_[a-z0-9_]+")


def _exprs() -> list[str]:
    return [t["expr"] for p in DASHBOARD["panels"] for t in p.get("targets", [])]


def _used() -> set[str]:
    return {m for expr in _exprs() for m in METRIC.findall(expr)} | {
        m for v in DASHBOARD["templating"]["list"] for m in METRIC.findall(json.dumps(v.get("query", "")))
    }


def test_importable_dashboard_with_a_prometheus_input() -> None:
    assert 36 <= DASHBOARD["schemaVersion"] <= 41
    assert DASHBOARD["uid"] and DASHBOARD["title"]
    assert DASHBOARD["__inputs"] == [
        {
            "name": "DS_PROMETHEUS",
            "label": "Prometheus",
            "description": DASHBOARD["__inputs"][0]["description"],
            "type": "datasource",
            "pluginId": "prometheus",
            "pluginName": "Prometheus",
        }
    ]
    variables = {v["name"]: v for v in DASHBOARD["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["current"]["value"] == "${DS_PROMETHEUS}"


def test_panels_use_the_datasource_variable_and_do_not_overlap() -> None:
    ids = [p["id"] for p in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in DASHBOARD["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"]
        g: dict[str, Any] = panel["gridPos"]
        assert g["x"] + g["w"] <= 24, panel["title"]
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not mine & cells, f"{panel['title']} overlaps another panel"
        cells |= mine


def test_only_exposed_metric_names() -> None:
    exposed = set(CATALOG) | set(EXTRA_METRICS)
    assert _used() <= exposed, _used() - exposed


def test_the_promised_panels_are_there() -> None:
    by_kind: dict[str, set[str]] = {}
    for panel in DASHBOARD["panels"]:
        for name in {m for t in panel["targets"] for m in METRIC.findall(t["expr"])}:
            by_kind.setdefault(panel["type"], set()).add(name)
    assert {"convoload_health_status", "convoload_success_ratio", "convoload_response_time_p95_seconds"} <= (
        by_kind["stat"]
    )
    assert {
        "convoload_success_ratio",
        "convoload_error_ratio",
        "convoload_response_time_mean_seconds",
        "convoload_response_time_p95_seconds",
        "convoload_concurrent_users",
        "convoload_agent_transitions",
        "convoload_tokens_total",
        "convoload_cost_usd_total",
        "convoload_component_up",
    } <= by_kind["timeseries"]
    assert "convoload_alert_active" in by_kind["table"]
    # Counters are only read through rate()/increase(): their raw totals mean nothing on a chart.
    for expr in _exprs():
        for name in METRIC.findall(expr):
            if name.endswith("_total"):
                assert re.search(rf"(rate|increase)\({name}\b", expr), expr


def test_every_catalog_metric_is_charted() -> None:
    assert set(CATALOG) <= _used(), set(CATALOG) - _used()
