"""The types every layer shares, with no dependency on the rest of convoload.

Records of turns and conversations (what gets journaled, stored and reported), how they end and fail,
what hooks find, what the simulated user spends, the run report (`aggregate.json` as typed models),
the test pipeline's results (`real_test_results.json`) and the percentile definition. This package
imports only the standard library and pydantic, so any
part of convoload can import it without creating an import cycle (tests/test_boundaries.py checks).
"""

from convoload.model.pipeline import (
    CheckSummary,
    PassK,
    PipelineOverall,
    PipelineResults,
    PipelineSystem,
    ScenarioResult,
)
from convoload.model.records import (
    ConversationRecord,
    ErrorKind,
    Finding,
    Outcome,
    Priority,
    SimulatorFault,
    TurnError,
    TurnRecord,
    Usage,
    utc_now,
)
from convoload.model.stats import PERCENTILES, distribution, percentile

__all__ = [
    "PERCENTILES",
    "CheckSummary",
    "ConversationRecord",
    "ErrorKind",
    "Finding",
    "Outcome",
    "PassK",
    "PipelineOverall",
    "PipelineResults",
    "PipelineSystem",
    "Priority",
    "ScenarioResult",
    "SimulatorFault",
    "TurnError",
    "TurnRecord",
    "Usage",
    "distribution",
    "percentile",
    "utc_now",
]
