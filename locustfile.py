"""Lets `locust --headless -u 3 -r 1 -t 2m` work from the repository root (uses the demo agent by default)."""

from convoload.load.locustfile import ConversationUser

__all__ = ["ConversationUser"]
