"""Moved to `convoload.model` (records shared by every layer); kept for code that imports it from here."""

from convoload.model.records import (
    ConversationRecord,
    ErrorKind,
    Finding,
    Outcome,
    Priority,
    TurnError,
    TurnRecord,
    Usage,
    utc_now,
)

__all__ = [
    "ConversationRecord",
    "ErrorKind",
    "Finding",
    "Outcome",
    "Priority",
    "TurnError",
    "TurnRecord",
    "Usage",
    "utc_now",
]
