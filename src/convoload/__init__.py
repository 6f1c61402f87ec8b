"""convoload: persona-driven multi-turn load testing for conversational AI agents.

The public surface is what `__all__` lists; everything else is internal and may change. Names are
imported on first use, so `import convoload` stays cheap (a run loads Locust and gevent only when
it starts). See docs/guides/python.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public name -> the module that defines it.
_EXPORTS = {
    # running
    "run": "convoload.api",
    "stress": "convoload.api",
    "capacity": "convoload.api",
    "CapacityResult": "convoload.model.capacity",
    "converse": "convoload.api",
    "execute": "convoload.api",
    "Execution": "convoload.api",
    "UserFactory": "convoload.api",
    "StopRequest": "convoload.signals",
    # configuration and personas
    "Config": "convoload.config",
    "load_config": "convoload.config",
    "Persona": "convoload.personas.model",
    "Identity": "convoload.identity",
    # targets
    "Target": "convoload.targets.base",
    "TargetReply": "convoload.targets.base",
    "Session": "convoload.targets.base",
    "HttpTarget": "convoload.targets.http",
    "WebhookTarget": "convoload.targets.webhook",
    "PythonTarget": "convoload.targets.python",
    # simulated users
    "SimulatedUser": "convoload.users.base",
    "UserMessage": "convoload.users.base",
    "ScriptedUser": "convoload.users.scripted",
    "Playbook": "convoload.users.playbooks.base",
    # goals
    "GoalDetector": "convoload.conversation.goals",
    "GoalHit": "convoload.conversation.goals",
    "LinkGoal": "convoload.conversation.goals",
    "RegexGoal": "convoload.conversation.goals",
    "CallableGoal": "convoload.conversation.goals",
    # hooks and events
    "Hook": "convoload.hooks.base",
    "HookContext": "convoload.hooks.base",
    "Event": "convoload.events",
    # extension packs
    "BundledSystem": "convoload.bundled",
    "StartedSystem": "convoload.bundled",
    "ScenarioSuite": "convoload.pipeline.model",
    "Scenario": "convoload.pipeline.model",
    "DomainCheck": "convoload.pipeline.model",
    "CheckResult": "convoload.pipeline.model",
    # results
    "RunReport": "convoload.model.report",
    "PipelineResults": "convoload.model.pipeline",
    "ScenarioResult": "convoload.model.pipeline",
    "ConversationRecord": "convoload.model",
    "TurnRecord": "convoload.model",
    "TurnError": "convoload.model",
    "Finding": "convoload.model",
    "Outcome": "convoload.model",
    "ErrorKind": "convoload.model",
    "Usage": "convoload.model",
    # errors (the tree is drawn in convoload/errors.py)
    "ConvoloadError": "convoload.errors",
    "InputError": "convoload.errors",
    "ConfigError": "convoload.errors",
    "StoreError": "convoload.errors",
    "RunNotFound": "convoload.errors",
    "TargetError": "convoload.targets.base",
    "UserFailure": "convoload.users.base",
    "ProviderError": "convoload.llm.types",
    "LLMUnavailable": "convoload.llm.types",
}

__all__ = [
    "BundledSystem",
    "CallableGoal",
    "CapacityResult",
    "CheckResult",
    "Config",
    "ConfigError",
    "ConversationRecord",
    "ConvoloadError",
    "DomainCheck",
    "ErrorKind",
    "Event",
    "Execution",
    "Finding",
    "GoalDetector",
    "GoalHit",
    "Hook",
    "HookContext",
    "HttpTarget",
    "Identity",
    "InputError",
    "LLMUnavailable",
    "LinkGoal",
    "Outcome",
    "Persona",
    "PipelineResults",
    "Playbook",
    "ProviderError",
    "PythonTarget",
    "RegexGoal",
    "RunNotFound",
    "RunReport",
    "Scenario",
    "ScenarioResult",
    "ScenarioSuite",
    "ScriptedUser",
    "Session",
    "SimulatedUser",
    "StartedSystem",
    "StopRequest",
    "StoreError",
    "Target",
    "TargetError",
    "TargetReply",
    "TurnError",
    "TurnRecord",
    "Usage",
    "UserFactory",
    "UserFailure",
    "UserMessage",
    "WebhookTarget",
    "capacity",
    "converse",
    "execute",
    "load_config",
    "run",
    "stress",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'convoload' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once: later lookups do not come back here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from convoload.api import Execution, UserFactory, capacity, converse, execute, run, stress
    from convoload.bundled import BundledSystem, StartedSystem
    from convoload.config import Config, load_config
    from convoload.conversation.goals import CallableGoal, GoalDetector, GoalHit, LinkGoal, RegexGoal
    from convoload.errors import ConfigError, ConvoloadError, InputError, RunNotFound, StoreError
    from convoload.events import Event
    from convoload.hooks.base import Hook, HookContext
    from convoload.identity import Identity
    from convoload.llm.types import LLMUnavailable, ProviderError
    from convoload.model import ConversationRecord, ErrorKind, Finding, Outcome, TurnError, TurnRecord, Usage
    from convoload.model.capacity import CapacityResult
    from convoload.model.pipeline import PipelineResults, ScenarioResult
    from convoload.model.report import RunReport
    from convoload.personas.model import Persona
    from convoload.pipeline.model import CheckResult, DomainCheck, Scenario, ScenarioSuite
    from convoload.signals import StopRequest
    from convoload.targets.base import Session, Target, TargetError, TargetReply
    from convoload.targets.http import HttpTarget
    from convoload.targets.python import PythonTarget
    from convoload.targets.webhook import WebhookTarget
    from convoload.users.base import SimulatedUser, UserFailure, UserMessage
    from convoload.users.playbooks.base import Playbook
    from convoload.users.scripted import ScriptedUser
