"""What a hook records (defined with the records it is stored in)."""

from convoload.model import Finding, Priority

__all__ = ["Finding", "Priority"]
