"""Overall status from the alerts: firing and not inhibited is what counts."""

from __future__ import annotations

import pytest

from convoload.monitor.dashboard.status import overall_status
from convoload.monitor.store import AlertRow


def _alert(severity: str, state: str, inhibited: bool = False) -> AlertRow:
    return AlertRow(
        fingerprint=f"{severity}-{state}-{inhibited}",
        name="A",
        severity=severity,
        state=state,
        inhibited=inhibited,
        labels={},
        annotations={},
        value=None,
        threshold=None,
        active_since=None,
        fired_at=None,
        resolved_at=None,
        updated_at="2026-01-01T00:00:00.000Z",
    )


@pytest.mark.parametrize(
    ("alerts", "status"),
    [
        ([], "healthy"),
        ([("critical", "pending")], "healthy"),
        ([("warning", "pending"), ("critical", "resolved")], "healthy"),
        ([("warning", "firing")], "warning"),
        ([("critical", "firing", True)], "healthy"),
        ([("critical", "firing", True), ("warning", "firing")], "warning"),
        ([("warning", "firing"), ("critical", "firing")], "critical"),
        ([("critical", "firing"), ("warning", "firing", True)], "critical"),
        ([("info", "firing")], "healthy"),
    ],
)
def test_overall_status(alerts: list[tuple], status: str) -> None:
    assert overall_status([_alert(*a) for a in alerts]) == status
