"""Goal detectors: has the agent's reply reached what the customer came for?"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol

from convoload.textutil import URL_RE


class GoalDetector(Protocol):
    description: str

    def __call__(self, reply_text: str) -> bool: ...


class LinkGoal:
    """The reply contains a link (default: any http/https URL), e.g. a payment link."""

    def __init__(self, pattern: str | None = None) -> None:
        self._re = re.compile(pattern, re.IGNORECASE) if pattern else URL_RE
        self.description = f"link matching {pattern}" if pattern else "any http(s) link"

    def __call__(self, reply_text: str) -> bool:
        return bool(self._re.search(reply_text))


class RegexGoal:
    def __init__(self, pattern: str) -> None:
        self._re = re.compile(pattern, re.IGNORECASE | re.DOTALL)
        self.description = f"reply matches /{pattern}/"

    def __call__(self, reply_text: str) -> bool:
        return bool(self._re.search(reply_text))


class CallableGoal:
    def __init__(self, function: Callable[[str], bool], name: str) -> None:
        self._function = function
        self.description = f"{name}(reply)"

    def __call__(self, reply_text: str) -> bool:
        return bool(self._function(reply_text))


def build_goal(kind: str, pattern: str | None = None, function: str | None = None) -> GoalDetector:
    """From the config's goal section; `function` is `module:function` taking the reply text."""
    if kind == "regex":
        return RegexGoal(pattern or "")
    if kind == "python":
        from convoload.targets.python import import_callable

        return CallableGoal(import_callable(function or ""), function or "")
    return LinkGoal(pattern)
