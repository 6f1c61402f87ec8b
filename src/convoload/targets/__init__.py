"""Target connectors: how a message reaches the agent under test and its reply comes back."""

from convoload.targets.base import Session, Target, TargetError, TargetReply

__all__ = ["Session", "Target", "TargetError", "TargetReply"]
