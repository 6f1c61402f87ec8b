"""The assistant goes down: the monitor fires a critical alert, notifies a webhook, and the dashboard
(in a real headless Chromium) shows it firing."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from convoload.monitor.config import MonitorConfig
from convoload.monitor.service import Monitor
from tests.browser import dump_dom, needs_chromium, parse_dom
from tests.monitor.helpers import RealEstate, Receiver, monitor_config

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.browser]

RULES = [
    {"name": "agent_down", "metric": "component_up:agent", "op": "<", "critical": 1},
    {"name": "success_rate_low", "metric": "success_rate", "op": "<", "warning": 0.85, "critical": 0.7},
]


@needs_chromium
def test_a_failing_assistant_fires_an_alert_seen_on_the_dashboard(
    tmp_path: Path, realestate: RealEstate, alert_receiver: Receiver
) -> None:
    data = monitor_config(
        tmp_path,
        realestate,
        window_s=2,  # only the conversations of the latest collection count
        alerting={"rules": RULES, "channels": [{"type": "webhook", "url": alert_receiver.url}]},
        dashboard={"enabled": True, "port": 0, "refresh_s": 1},
    )
    monitor = Monitor(MonitorConfig.model_validate(data))
    monitor.start()
    try:
        assert monitor.wait_jobs({"collect": 1, "health": 1}, timeout_s=60)
        assert monitor.dashboard_url is not None
        healthy = httpx.get(monitor.dashboard_url + "/api/status", timeout=10).json()
        assert healthy["status"] == "healthy"
        assert alert_receiver.bodies.empty()

        realestate.assistant.stop()  # the agent under watch fails

        notification = alert_receiver.next(timeout=90)
        assert notification["status"] == "firing"
        names = {a["labels"]["alertname"] for a in notification["alerts"]}
        assert names & {"agent_down", "success_rate_low"}
        assert all(a["labels"]["severity"] == "critical" for a in notification["alerts"])

        dom = parse_dom(dump_dom(monitor.dashboard_url + "/", tmp_path))
        assert dom.find(id="overall").attrs["data-status"] == "critical"
        firing = dom.find_all("tr", data_alert=True, data_state="firing")
        assert {row.attrs["data-alert"] for row in firing} & names
        shown = {(row.attrs["data-severity"], row.attrs["data-inhibited"]) for row in firing}
        assert ("critical", "false") in shown
        assert ("warning", "false") not in shown  # the matching warning is inhibited by the critical
        agent = dom.find(data_component="agent")
        assert agent.attrs["data-up"] == "false"
        assert dom.find(data_component="catalog").attrs["data-up"] == "true"
    finally:
        monitor.shutdown()
