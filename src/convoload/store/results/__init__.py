"""The results store: runs, conversations, turns, findings, grades and judgements in SQLite or Postgres."""

from convoload.errors import RunNotFound, StoreError
from convoload.store.results.compare import Comparison, MetricDelta, compare_runs
from convoload.store.results.engine import RawJSON
from convoload.store.results.migrations import LATEST, SchemaVersionError, current_version, migrate
from convoload.store.results.stats import RunRow
from convoload.store.results.store import GradeRow, JudgementRow, PersonaRow, ResultsStore

__all__ = [
    "LATEST",
    "Comparison",
    "GradeRow",
    "JudgementRow",
    "MetricDelta",
    "PersonaRow",
    "RawJSON",
    "ResultsStore",
    "RunNotFound",
    "RunRow",
    "SchemaVersionError",
    "StoreError",
    "compare_runs",
    "current_version",
    "migrate",
]
