"""Conversations in tests: a readable transcript of a record, and assertions that show it on failure.

    from convoload.testing import assert_goal

    def test_kataryna_pays(converse):          # `converse`: a fixture of the pytest plugin
        assert_goal(converse(persona="kataryna"))

The pytest plugin itself (fixtures, the `convoload` marker, `--convoload-repeat`, transcripts in
the JUnit XML) is `convoload.testing.plugin`, registered under the `pytest11` entry point. This
module imports only the standard library and convoload.errors: pytest loads the plugin, and with it
this package, in every session.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

from convoload.errors import ConvoloadError

if TYPE_CHECKING:
    from convoload.model import ConversationRecord

__all__ = ["assert_goal", "assert_outcome", "describe", "transcript"]


def describe(record: ConversationRecord) -> str:
    """One line: who, the outcome and why, how many turns (e.g. for a test's failure headline)."""
    outcome = record.outcome.value if record.outcome is not None else "unfinished"
    why = []
    if record.goal_reached:
        evidence = next((t.goal_evidence for t in record.turns if t.goal_reached), None)
        if evidence:
            why.append(f"goal: {evidence}")
    if record.error is not None:
        why.append(f"{record.error.kind.value}: {record.error.message}")
    if record.simulator_fault is not None:
        why.append(f"simulator fault: {record.simulator_fault.value}")
    if record.stop_reason:
        why.append(record.stop_reason)
    reason = f" ({'; '.join(why)})" if why else ""
    turns = f"{record.iterations} turn{'s' if record.iterations != 1 else ''}"
    return f"{record.persona}: {outcome}{reason} after {turns}, session {record.session_id}"


def transcript(record: ConversationRecord) -> str:
    """The conversation as people read it: the `describe` line, then each turn's message and reply
    (which agent answered, how long it took), the turn's error, and where the goal was reached."""
    lines = [describe(record)]
    for turn in record.turns:
        lines.append(_said(f"{turn.iteration:>3} user", turn.user_text))
        if turn.reply_text is not None:
            took = f"{turn.latency_ms:.0f} ms" if turn.latency_ms is not None else ""
            about = ", ".join(part for part in (turn.agent, took) if part)
            lines.append(_said("    agent", turn.reply_text + (f"  [{about}]" if about else "")))
        if turn.error is not None:
            lines.append(_said("    error", f"{turn.error.kind.value}: {turn.error.message}"))
        if turn.goal_reached:
            lines.append(_said("    goal", turn.goal_evidence or "reached"))
    return "\n".join(lines)


def _said(who: str, text: str) -> str:
    """`who` then the text, its later lines indented under the first (agents' replies span lines)."""
    head = f"{who:<10}"
    return textwrap.indent(text.strip() or "(empty)", " " * len(head)).replace(" " * len(head), head, 1)


def assert_goal(record: ConversationRecord) -> None:
    """Fail, showing the outcome, the reason and the whole transcript, unless the goal was reached."""
    __tracebackhide__ = True  # pytest: the failure points at the test's line, not at this helper
    if not record.goal_reached:
        raise ConversationFailed(record, "the goal was not reached")


def assert_outcome(record: ConversationRecord, outcome: str) -> None:
    """Fail, showing the transcript, unless the conversation ended with `outcome` (an `Outcome` or
    its value, e.g. "user_stopped")."""
    __tracebackhide__ = True
    actual = record.outcome.value if record.outcome is not None else None
    if actual != str(outcome):
        raise ConversationFailed(record, f"expected outcome {outcome}, got {actual}")


class ConversationFailed(ConvoloadError, AssertionError):
    """An assertion about one conversation failed; the message carries its transcript."""

    def __init__(self, record: ConversationRecord, problem: str) -> None:
        self.record = record
        super().__init__(f"{problem}\n{transcript(record)}")
