"""The conversation loop: a simulated user and a target talk until the goal, a stop or the cap."""

from convoload.conversation.goals import GoalDetector, LinkGoal, RegexGoal
from convoload.conversation.loop import run_conversation
from convoload.conversation.records import ConversationRecord, ErrorKind, Outcome, TurnRecord

__all__ = [
    "ConversationRecord",
    "ErrorKind",
    "GoalDetector",
    "LinkGoal",
    "Outcome",
    "RegexGoal",
    "TurnRecord",
    "run_conversation",
]
