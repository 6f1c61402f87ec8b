"""`monitor --once` runs one job with a config validated as a whole: dashboard and schedules off."""

from pathlib import Path

import pytest

from convoload.errors import ConfigError
from convoload.monitor.config import Schedule, load_monitor_config
from tests.helpers import write


def _scheduled(config) -> dict[str, bool]:
    return {name: getattr(config.schedule, name).enabled for name in Schedule.model_fields}


def test_on_demand_turns_the_dashboard_and_every_schedule_off_and_keeps_the_rest(tmp_path: Path) -> None:
    path = write(
        tmp_path / "monitor.yaml",
        "runs_dir: elsewhere\n"
        "dashboard: {port: 0}\n"
        "schedule:\n"
        "  stress: {users: 3, every_s: 10}\n"
        "  daily: {at: '03:30'}\n",
    )
    scheduled = load_monitor_config(path)
    assert scheduled.dashboard.enabled and all(_scheduled(scheduled).values())

    once = load_monitor_config(path, on_demand=True)
    assert not once.dashboard.enabled
    assert not any(_scheduled(once).values()), _scheduled(once)
    # What the job runs with is the file's, not the defaults
    assert once.schedule.stress.users == 3 and once.schedule.daily.at == "03:30"
    assert once.runs_dir == "elsewhere" and once.dashboard.port == 0
    assert once.source == str(path) and once.base_dir == tmp_path.resolve()
    # and the config loaded for the schedule was not touched by the on-demand one
    assert scheduled.dashboard.enabled and scheduled.schedule.stress.enabled


def test_on_demand_defaults_without_a_file() -> None:
    once = load_monitor_config(None, on_demand=True)
    assert not once.dashboard.enabled and not any(_scheduled(once).values())


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("schedule: {stress: {users: 0}}\n", "schedule.stress.users"),
        ("dashboard: [1, 2]\n", "dashboard"),
        ("schedule: 5\n", "schedule"),
    ],
)
def test_on_demand_still_names_the_bad_field(tmp_path: Path, text: str, field: str) -> None:
    path = write(tmp_path / "monitor.yaml", text)
    with pytest.raises(ConfigError) as caught:
        load_monitor_config(path, on_demand=True)
    assert caught.value.source == str(path) and caught.value.field == field
