"""The locustfile of `convoload capacity --workers N`: convoload's own, with the capacity steps as its
load shape (see knee.distributed)."""

from convoload.knee.distributed import CapacityClusterShape
from convoload.load.locust_plugin import ConversationUser

__all__ = ["CapacityClusterShape", "ConversationUser"]
