"""Offline, rule-based ticket-booking assistant for a fictional nature park.

The assistant itself (:mod:`.assistant`) is pure Python; the HTTP/webhook server lives in
:mod:`.server` and is started as a subprocess by :class:`.launcher.DemoTicketServer`.
"""

from convoload_demo.tickets.assistant import AssistantReply, TicketAssistant

__all__ = ["AssistantReply", "TicketAssistant"]
