"""Tables of the results store, in portable types (JSON columns hold whole documents).

Timestamps are ISO-8601 UTC text, the format the records already use: it round-trips exactly,
sorts chronologically and reads the same on SQLite and Postgres.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

TS = String(40)

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("applied_at", TS, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", String(200), nullable=False, unique=True),
    Column("started_at", TS, nullable=False),
    Column("finished_at", TS),
    Column("status", String(20), nullable=False),  # running | finished | interrupted
    Column("meta", JSON, nullable=False),
    Column("summary", JSON),
    Index("ix_runs_started_at", "started_at"),
)

conversations = Table(
    "conversations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", String(200), ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False),
    Column("session_id", String(200), nullable=False),
    Column("user_id", Integer, nullable=False),
    Column("persona", String(200), nullable=False),
    Column("outcome", String(40)),
    Column("stop_reason", Text),
    Column("error_kind", String(40)),
    Column("goal_reached", Boolean, nullable=False),
    Column("iterations", Integer, nullable=False),
    Column("total_time_ms", Float, nullable=False),
    Column("prompt_tokens", Integer, nullable=False),
    Column("completion_tokens", Integer, nullable=False),
    Column("total_tokens", Integer, nullable=False),
    Column("cost_usd", Float, nullable=False),
    Column("started_at", TS, nullable=False),
    Column("finished_at", TS),
    Column("document", JSON, nullable=False),
    Index("ix_conversations_run_session", "run_id", "session_id"),
    Index("ix_conversations_run_persona", "run_id", "persona"),
)

turns = Table(
    "turns",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("conversation_id", Integer, ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
    Column("iteration", Integer, nullable=False),
    Column("user_text", Text, nullable=False),
    Column("reply_text", Text),
    Column("agent", String(200)),
    Column("latency_ms", Float),
    Column("ack_ms", Float),
    Column("error_kind", String(40)),
    Column("status_code", Integer),
    Column("sent_at", TS, nullable=False),
    Index("ix_turns_conversation", "conversation_id"),
)

findings = Table(
    "findings",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", String(200), ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False),
    Column("session_id", String(200), nullable=False),
    Column("persona", String(200), nullable=False),
    Column("hook", String(200), nullable=False),
    Column("priority", String(20), nullable=False),
    Column("iteration", Integer),
    Column("message", Text, nullable=False),
    Column("data", JSON, nullable=False),
    Column("at", TS, nullable=False),
    Index("ix_findings_run_hook", "run_id", "hook"),
)

# Added by migration 2.
grades = Table(
    "grades",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", String(200), ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False),
    Column("scenario", String(200), nullable=False),
    Column("grade", String(20), nullable=False),
    Column("success_rate", Float),
    Column("p95_ms", Float),
    Column("details", JSON, nullable=False),
    Index("ix_grades_run_scenario", "run_id", "scenario"),
)

# Added by migration 3: the monitor's time series, jobs, alerts and notification deliveries.
metric_samples = Table(
    "metric_samples",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", TS, nullable=False),
    Column("name", String(100), nullable=False),
    Column("series", String(400), nullable=False),  # name + sorted labels: one key per time series
    Column("labels", JSON, nullable=False),
    Column("value", Float, nullable=False),
    Index("ix_metric_samples_series_at", "series", "at"),
    Index("ix_metric_samples_at", "at"),
)

metric_latest = Table(
    "metric_latest",
    metadata,
    Column("series", String(400), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("labels", JSON, nullable=False),
    Column("value", Float, nullable=False),
    Column("at", TS, nullable=False),
)

monitor_jobs = Table(
    "monitor_jobs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("job", String(40), nullable=False),
    Column("started_at", TS, nullable=False),
    Column("finished_at", TS),
    Column("status", String(20), nullable=False),  # running | ok | failed
    Column("run_id", String(200)),
    Column("report", Text),  # path of the job's HTML report, when it wrote one
    Column("summary", JSON),
    Column("error", Text),
    Index("ix_monitor_jobs_started_at", "started_at"),
)

alerts = Table(
    "alerts",
    metadata,
    Column("fingerprint", String(100), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("severity", String(20), nullable=False),
    Column("state", String(20), nullable=False),  # pending | firing | resolved
    Column("inhibited", Boolean, nullable=False),
    Column("labels", JSON, nullable=False),
    Column("annotations", JSON, nullable=False),
    Column("value", Float),
    Column("threshold", Float),
    Column("active_since", TS),
    Column("fired_at", TS),
    Column("resolved_at", TS),
    Column("updated_at", TS, nullable=False),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", TS, nullable=False),
    Column("channel", String(100), nullable=False),
    Column("status", String(20), nullable=False),  # firing | resolved
    Column("group_key", Text, nullable=False),
    Column("alerts", Integer, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("error", Text),
    Index("ix_deliveries_at", "at"),
)

monitor_state = Table(
    "monitor_state",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("value", JSON, nullable=False),
    Column("updated_at", TS, nullable=False),
)

MONITOR_TABLES = [metric_samples, metric_latest, monitor_jobs, alerts, deliveries, monitor_state]

# Added by migration 4: the verdict of a `convoload capacity` run (its capacity.json as `document`).
capacity = Table(
    "capacity",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", String(200), ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False, unique=True),
    Column("knee_users", Integer),  # the highest concurrency that met every SLO; None: not even the first
    Column("broke_users", Integer),  # the first that broke one; None: none did
    Column("broken", JSON, nullable=False),  # the SLOs it broke, with the values measured
    Column("document", JSON, nullable=False),
)

# Added by migration 5: the conversation judge's verdicts, one row per judged conversation (a run judged
# again has its rows replaced).
judgements = Table(
    "judgements",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", String(200), ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False),
    Column("session_id", String(200), nullable=False),
    Column("persona", String(200), nullable=False),
    Column("rubric", String(200), nullable=False),
    Column("status", String(20), nullable=False),  # judged | judge_error
    Column("passed", Boolean),  # None: the judge failed (status judge_error)
    Column("score", Float),  # 0..1, the weighted mean of the normalised criterion scores
    Column("criteria", JSON, nullable=False),  # [{id, score, normalised, passed, reason}]
    Column("judge", String(200)),  # provider/model that answered
    Column("error", Text),
    Column("cost_usd", Float, nullable=False),
    Column("total_tokens", Integer, nullable=False),
    Column("usage", JSON, nullable=False),  # the judge's whole usage (tokens, calls, replays)
    Column("judged_at", TS, nullable=False),
    Index("ix_judgements_run_session", "run_id", "session_id"),
)
