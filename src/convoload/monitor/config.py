"""`convoload monitor --config FILE`: what to watch, how often, and whom to tell.

Every key is optional: the empty file (or no file) watches the bundled real-estate system,
which the monitor starts itself, on the default schedule.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from convoload.errors import ConfigError, pydantic_error_to_config_error
from convoload.llm.providers import PRESETS
from convoload.monitor.alerts import AlertingConfig
from convoload.safeyaml import load_yaml_mapping
from convoload.store.results.engine import check_store_url


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Job(_Strict):
    enabled: bool = True
    every_s: float = Field(gt=0, description="seconds between two starts")


class CollectJob(_Job):
    every_s: float = Field(default=60.0, gt=0)
    conversations: int = Field(default=2, ge=1, description="synthetic conversations per collection")
    concurrency: int = Field(default=2, ge=1)


class HealthJob(_Job):
    every_s: float = Field(default=300.0, gt=0)
    timeout_s: float = Field(default=10.0, gt=0, description="per component")


class StressJob(_Job):
    every_s: float = Field(default=1800.0, gt=0)
    users: int = Field(default=5, ge=1)
    duration_s: float = Field(default=60.0, gt=0)
    profile: Literal["steady", "ramp", "spike"] = "steady"
    drain_s: float = Field(default=30.0, ge=0)


class PipelineSystem(_Strict):
    """An external copy of the suite's system: its chat API (POST {session_id, message} -> {reply,
    agent}), its health endpoint, and the data API its replies are checked against, if any."""

    chat_url: str
    catalog_url: str | None = None
    health_url: str


class PipelineJob(_Job):
    every_s: float = Field(default=7200.0, gt=0)
    suite: str = Field(
        default="realestate", description="scenario suite: an installed one's name, or module:attr"
    )
    scenarios: str | None = Field(default=None, description="scenario YAML instead of the suite's own")
    repeat: int = Field(default=1, ge=1)
    system: PipelineSystem | None = Field(
        default=None,
        description="default: the suite's bundled system when the monitor runs it, else its own target, "
        "else (a suite of no system) the watched agent",
    )

    @field_validator("suite")
    @classmethod
    def _installed(cls, value: str) -> str:
        from convoload.pipeline.model import SUITES

        try:
            SUITES.resolve(value)
        except KeyError as exc:
            raise ValueError(exc.args[0]) from None
        return value


class DailyJob(_Strict):
    enabled: bool = True
    at: str = Field(default="02:00", description="HH:MM, in the monitor's timezone")
    stress_users: int = Field(default=10, ge=1)
    stress_duration_s: float = Field(default=300.0, gt=0)
    pipeline_repeat: int = Field(default=2, ge=1)

    @field_validator("at")
    @classmethod
    def _hh_mm(cls, value: str) -> str:
        match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", value)
        if not match:
            raise ValueError("expected HH:MM, e.g. 02:00")
        return value

    @property
    def hour(self) -> int:
        return int(self.at.split(":")[0])

    @property
    def minute(self) -> int:
        return int(self.at.split(":")[1])


class Schedule(_Strict):
    collect: CollectJob = Field(default_factory=CollectJob)
    health: HealthJob = Field(default_factory=HealthJob)
    stress: StressJob = Field(default_factory=StressJob)
    pipeline: PipelineJob = Field(default_factory=PipelineJob)
    daily: DailyJob = Field(default_factory=DailyJob)


class Component(_Strict):
    """One thing the health check probes: a URL (expects 2xx and, for JSON, no status 'down'), or an
    LLM provider (`provider: openrouter`: GET /models with its key from the environment)."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.:/-]+$")
    url: str | None = None
    provider: str | None = Field(default=None, description="an LLM provider preset name, or PROVIDER/MODEL")

    @model_validator(mode="after")
    def _one_kind(self) -> Component:
        if (self.url is None) == (self.provider is None):
            raise ValueError("give either 'url' or 'provider'")
        if self.url is not None and not re.match(r"^https?://", self.url):
            raise ValueError("url must start with http:// or https://")
        if self.provider is not None and self.provider.partition("/")[0] not in PRESETS:
            raise ValueError(f"unknown provider {self.provider!r} (known: {', '.join(PRESETS)})")
        return self


class DashboardConfig(_Strict):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8089, ge=0, le=65535, description="0 picks a free port")
    refresh_s: float = Field(default=15.0, gt=0)


class LogsConfig(_Strict):
    dir: str = "logs"
    max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, description="rotate a log file at this size")
    backups: int = Field(default=5, ge=0, description="rotated files kept per log")


class MonitorConfig(_Strict):
    agent: str | None = Field(
        default=None,
        description="convoload config (target, personas, users, goal, hooks) for the synthetic "
        "conversations; default: the bundled real-estate system, started by the monitor",
    )
    listings: int = Field(default=10_000, ge=100, description="bundled system: catalog size")
    runs_dir: str = "monitor-runs"
    store_url: str | None = Field(
        default=None, description="results store; default CONVOLOAD_DB_URL or <runs_dir>/results.sqlite"
    )
    timezone: str | None = Field(default=None, description="for the daily job; default: the machine's")
    window_s: float = Field(default=900.0, gt=0, description="metrics cover the conversations of this long")
    retention_days: float = Field(default=30.0, gt=0, description="metric samples older than this go")
    components: list[Component] | None = Field(
        default=None, description="health-checked; default for the bundled system: agent and catalog"
    )
    judge: bool | None = Field(
        default=None,
        description="judge the synthetic conversations (collect) and the pipeline's scenarios with the "
        "agent config's `judge` section; default: that section's `enabled`",
    )
    schedule: Schedule = Field(default_factory=Schedule)
    alerting: AlertingConfig = Field(default_factory=AlertingConfig)
    dashboard: DashboardConfig = Field(default_factory=DashboardConfig)
    logs: LogsConfig = Field(default_factory=LogsConfig)
    source: str = Field(default="(defaults)", exclude=True)
    base_dir: Path = Field(default_factory=Path.cwd, exclude=True)

    @field_validator("store_url")
    @classmethod
    def _store_url(cls, value: str | None) -> str | None:
        if value:
            check_store_url(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown timezone {value!r} (e.g. America/Sao_Paulo, UTC)") from None
        return value

    def path(self, value: str) -> Path:
        """A path from the config, relative to the config file's folder."""
        path = Path(value)
        return path if path.is_absolute() else self.base_dir / path


def require_dashboard_token(config: MonitorConfig) -> None:
    """A dashboard beyond loopback needs its token (CONVOLOAD_DASHBOARD_TOKEN): refused before it starts."""
    from convoload.envsecrets import secret_from_env
    from convoload.monitor.dashboard.settings import TOKEN_ENV, is_loopback

    dashboard = config.dashboard
    if dashboard.enabled and not is_loopback(dashboard.host) and not secret_from_env(TOKEN_ENV):
        raise ConfigError(
            config.source,
            "dashboard.host",
            f"a dashboard on {dashboard.host} needs a token: set {TOKEN_ENV} (env or .env) "
            "or bind it to 127.0.0.1",
        )


def load_monitor_config(path: str | Path | None, *, on_demand: bool = False) -> MonitorConfig:
    """Read and validate a monitor config; None gives the defaults. Errors name the file and field.

    `on_demand` (for `monitor --once`) turns the dashboard and every scheduled job off in the data
    before it is validated, so the config a job runs with is one validated whole.
    """
    data: dict[str, Any] = load_yaml_mapping(Path(path)) if path is not None else {}
    if on_demand:
        data = _on_demand(data)
    if path is None:
        return MonitorConfig.model_validate(data)
    path = Path(path)
    data.update(source=str(path), base_dir=path.parent.resolve())
    try:
        config = MonitorConfig.model_validate(data)
    except ValidationError as exc:
        raise pydantic_error_to_config_error(str(path), exc) from None
    if config.agent is not None and not config.path(config.agent).is_file():
        raise ConfigError(str(path), "agent", f"no such file: {config.agent}")
    pipeline = config.schedule.pipeline
    if pipeline.scenarios is not None:  # a bad scenario file: now, not at 2 a.m.
        from convoload.pipeline.model import load_scenarios, resolve_suite

        suite = resolve_suite(pipeline.suite, source=str(path), field="schedule.pipeline.suite")
        load_scenarios(config.path(pipeline.scenarios), suite=suite)
    return config


def _on_demand(data: dict[str, Any]) -> dict[str, Any]:
    """`data` with the dashboard and every scheduled job off (each section kept if it is not a mapping,
    so that validation reports it as the file wrote it)."""

    def off(section: Any) -> Any:
        return {**section, "enabled": False} if isinstance(section, dict) else section

    schedule = data.get("schedule", {})
    if isinstance(schedule, dict):
        schedule = {**schedule, **{name: off(schedule.get(name, {})) for name in Schedule.model_fields}}
    return {**data, "dashboard": off(data.get("dashboard", {})), "schedule": schedule}
