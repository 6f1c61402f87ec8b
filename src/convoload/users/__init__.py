"""Simulated users: given the conversation so far, say the next message or stop."""

from convoload.users.base import SimulatedUser, UserMessage
from convoload.users.scripted import ScriptedUser

__all__ = ["ScriptedUser", "SimulatedUser", "UserMessage"]
