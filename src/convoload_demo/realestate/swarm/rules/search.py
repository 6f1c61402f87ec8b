"""triagem and busca: greet, collect criteria, search, list results, hand over the chosen listing."""

from __future__ import annotations

from convoload_demo.realestate.swarm.agents import BUSCA, IMOVEL
from convoload_demo.realestate.swarm.brain import BrainDecision, ToolOutcome
from convoload_demo.realestate.swarm.rules.criteria import no_preference, parse_criteria, parse_selection
from convoload_demo.realestate.swarm.rules.messages import results_message, say
from convoload_demo.realestate.swarm.rules.state import ConversationState

_QUESTIONS = ("tx_city", "budget", "bedrooms")


def triage(state: ConversationState, text: str, first: bool) -> BrainDecision:
    if parse_criteria(text).any():
        return BrainDecision.call(f"transfer_to_{BUSCA}")
    if first:
        return BrainDecision.say(say(state.lang, "greeting"))
    return BrainDecision.say(f"{say(state.lang, 'not_understood')} {say(state.lang, 'ask_tx_city')}")


def search_user(state: ConversationState, text: str, first: bool) -> BrainDecision:
    found = parse_criteria(text, pending=state.pending)
    changed = state.criteria.merge(found)
    if not changed and state.pending == "pick":
        chosen = parse_selection(text, state.results)
        if chosen is not None:
            state.selected_id = int(chosen["id"])
            return BrainDecision.call(f"transfer_to_{IMOVEL}")
        return _help(state, "pick_number")
    if not changed and state.pending == "no_results":
        return _help(state, "no_results")
    if not changed and state.pending in _QUESTIONS and not no_preference(text):
        return _help(state, _question_key(state.pending))
    decision = next_step(state)
    if first and decision.text:
        hello = "Olá!" if state.lang == "pt" else "Hello!"
        return BrainDecision.say(f"{hello} {decision.text}")
    return decision


def next_step(state: ConversationState) -> BrainDecision:
    """Ask for the next missing criterion, or search when there is enough to go on."""
    criteria = state.criteria
    if not criteria.transaction_type or not criteria.city:
        return _ask(state, "tx_city")
    if criteria.price_max is None and "budget" not in state.asked:
        return _ask(state, "budget")
    if criteria.bedrooms_min is None and criteria.wants_bedrooms() and "bedrooms" not in state.asked:
        return _ask(state, "bedrooms")
    return BrainDecision.call("search_properties", **criteria.search_params())


def search_result(state: ConversationState, outcome: ToolOutcome) -> BrainDecision:
    if not outcome.ok:
        return BrainDecision.say(say(state.lang, "unavailable"))
    items = outcome.result.get("items", [])[:3]
    state.results = items
    if not items:
        state.pending = "no_results"
        return BrainDecision.say(say(state.lang, "no_results"))
    state.pending = "pick"
    return BrainDecision.say(results_message(int(outcome.result.get("total", len(items))), items, state.lang))


def _ask(state: ConversationState, question: str) -> BrainDecision:
    state.pending = question
    state.asked.add(question)
    return BrainDecision.say(say(state.lang, _question_key(question)))


def _question_key(question: str) -> str:
    return {"tx_city": "ask_tx_city", "budget": "ask_budget", "bedrooms": "ask_bedrooms"}[question]


def _help(state: ConversationState, key: str) -> BrainDecision:
    return BrainDecision.say(f"{say(state.lang, 'not_understood')} {say(state.lang, key)}")
