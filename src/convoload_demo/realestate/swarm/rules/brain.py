"""RuleBasedBrain: the offline, deterministic brain (Portuguese and English), one handler per agent."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from convoload_demo.realestate.swarm.agents import AGENDAMENTO, BUSCA, IMOVEL, TRIAGEM
from convoload_demo.realestate.swarm.brain import (
    BrainDecision,
    BrainTurn,
    ToolOutcome,
    last_user_text,
    trailing_tool_outcomes,
    user_message_count,
)
from convoload_demo.realestate.swarm.rules import listing, search, visit
from convoload_demo.realestate.swarm.rules.state import ConversationState
from convoload_demo.realestate.swarm.rules.text import detect_language

SAO_PAULO = ZoneInfo("America/Sao_Paulo")


def sao_paulo_now() -> datetime:
    """Naive local time in São Paulo, the catalog's visit clock."""
    return datetime.now(SAO_PAULO).replace(tzinfo=None, second=0, microsecond=0)


class RuleBasedBrain:
    """Keyword and regex rules; what it learns (criteria, listing, slot, contact) is kept per session."""

    def __init__(self, *, now: Callable[[], datetime] = sao_paulo_now, max_sessions: int = 10_000) -> None:
        self._now = now
        self._states: OrderedDict[str, ConversationState] = OrderedDict()
        self._lock = threading.Lock()
        self._max_sessions = max_sessions

    def state(self, session_id: str) -> ConversationState:
        with self._lock:
            state = self._states.get(session_id)
            if state is None:
                state = self._states[session_id] = ConversationState()
                while len(self._states) > self._max_sessions:
                    self._states.popitem(last=False)
            self._states.move_to_end(session_id)
            return state

    def decide(self, turn: BrainTurn) -> BrainDecision:
        state = self.state(turn.session_id)
        text = last_user_text(turn.history)
        first = user_message_count(turn.history) == 1
        if first:
            state.lang = detect_language(text)
        outcomes = trailing_tool_outcomes(turn.history)
        entered = bool(outcomes) and outcomes[-1].name.startswith("transfer_to_")
        agent = turn.agent.name
        if outcomes and not entered:
            return self._after_tool(state, agent, outcomes[-1])
        if agent == TRIAGEM:
            return search.triage(state, text, first)
        if agent == BUSCA:
            return search.search_user(state, text, first)
        if agent == IMOVEL:
            return (
                listing.enter(state) if entered and _needs_fetch(state) else listing.listing_user(state, text)
            )
        if agent == AGENDAMENTO:
            return visit.visit_user(state, text, entered, self._now())
        raise ValueError(f"the rule brain has no rules for agent {agent!r}")

    def _after_tool(self, state: ConversationState, agent: str, outcome: ToolOutcome) -> BrainDecision:
        if outcome.name == "search_properties":
            return search.search_result(state, outcome)
        if outcome.name == "get_property":
            return listing.listing_result(state, outcome)
        if outcome.name == "check_availability":
            return visit.availability_result(state, outcome, self._now())
        if outcome.name == "book_visit":
            return visit.booking_result(state, outcome)
        raise ValueError(f"the rule brain did not call {outcome.name!r}")


def _needs_fetch(state: ConversationState) -> bool:
    return state.listing is None or state.listing.get("id") != state.selected_id
