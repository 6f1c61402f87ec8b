"""The demo ticket assistant as an in-process `python` target (`convoload_demo.tickets.inprocess:reply`)."""

from __future__ import annotations

from typing import Any

from convoload_demo.tickets.assistant import TicketAssistant

_assistant = TicketAssistant()


def reply(text: str, session: Any, iteration: int) -> dict[str, Any]:
    answer = _assistant.reply(session.session_id, text)
    return {"text": answer.messages, "agent": answer.agent}
