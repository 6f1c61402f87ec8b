"""The test pipeline: a scenario suite run against its system, graded, with integration metrics.

A pack registers suites under `convoload.scenarios`; `convoload pipeline --suite NAME|module:attr`
runs one (default: the demo pack's `realestate`).
"""

from convoload.pipeline.model import (
    SUITES,
    CheckResult,
    DomainCheck,
    Mismatch,
    Repeat,
    Scenario,
    ScenarioSuite,
    load_scenarios,
    parse_scenarios,
    resolve_suite,
)

__all__ = [
    "SUITES",
    "CheckResult",
    "DomainCheck",
    "Mismatch",
    "Repeat",
    "Scenario",
    "ScenarioSuite",
    "load_scenarios",
    "parse_scenarios",
    "resolve_suite",
]
