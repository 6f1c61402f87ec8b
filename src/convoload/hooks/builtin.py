"""The generic built-in hooks (critical, business, quality), each with configurable thresholds.

They apply to any agent. Hooks about one domain (prices, visits, property inquiries) come from packs,
registered under the `convoload.hooks` entry-point group (see `hooks.factory`).
"""

from __future__ import annotations

import re
from itertools import pairwise
from typing import Any, ClassVar

from convoload.events import AgentChanged, LLMFallback, TurnFailed
from convoload.hooks.base import Hook, HookContext
from convoload.model import ConversationRecord, TurnRecord
from convoload.textutil import Keywords, fold

_ERROR_WORDS = Keywords(
    (
        "ocorreu um erro",
        "erro interno",
        "algo deu errado",
        "indisponivel",
        "tente novamente mais tarde",
        "internal error",
        "something went wrong",
        "unavailable",
        "try again later",
        "traceback",
        "exception",
    )
)


class AgentTransitions(Hook):
    name = "agent_transitions"
    priority = "critical"
    description = "the agent answering changed between turns"
    defaults: ClassVar[dict[str, Any]] = {"max_per_conversation": 6}

    def on_agent_change(self, ctx: HookContext, event: AgentChanged) -> None:
        ctx.report(
            f"{event.previous} → {event.current}",
            iteration=event.iteration,
            previous=event.previous,
            current=event.current,
        )

    def on_conversation_end(self, ctx: HookContext, record: ConversationRecord) -> None:
        agents = record.agents
        changes = sum(1 for a, b in pairwise(agents) if a != b)
        if changes > self.settings["max_per_conversation"]:
            ctx.report(
                f"{changes} agent changes in one conversation (more than "
                f"{self.settings['max_per_conversation']})",
                changes=changes,
                excessive=True,
            )


class SlowResponses(Hook):
    name = "slow_responses"
    priority = "critical"
    description = "a reply took longer than the threshold"
    defaults: ClassVar[dict[str, Any]] = {"seconds": 5.0}

    def on_reply(self, ctx: HookContext, turn: TurnRecord, raw: Any) -> None:
        if turn.latency_ms is not None and turn.latency_ms > self.settings["seconds"] * 1000:
            ctx.report(
                f"reply after {turn.latency_ms / 1000:.2f} s (over {self.settings['seconds']:g} s)",
                iteration=turn.iteration,
                latency_ms=turn.latency_ms,
                agent=turn.agent,
            )


class ErrorResponses(Hook):
    name = "error_responses"
    priority = "critical"
    description = "a turn failed, or the agent's reply reads like an error message"
    defaults: ClassVar[dict[str, Any]] = {}

    def on_error(self, ctx: HookContext, event: TurnFailed) -> None:
        ctx.report(
            f"{event.error.kind.value}: {event.error.message}",
            iteration=event.iteration,
            kind=event.error.kind.value,
            status_code=event.error.status_code,
        )

    def on_reply(self, ctx: HookContext, turn: TurnRecord, raw: Any) -> None:
        if turn.reply_text and _ERROR_WORDS.found_in(fold(turn.reply_text)):
            ctx.report(
                "the reply reads like an error message",
                iteration=turn.iteration,
                reply=turn.reply_text[:200],
                agent=turn.agent,
            )


class OllamaFallbacks(Hook):
    """The simulated user's fallbacks. An agent reports its own LLM calls in its own format: a pack
    that knows one registers a subclass under this name, reading them in `on_reply` (the demo pack
    does, for its assistant)."""

    name = "ollama_fallbacks"
    priority = "critical"
    description = "an LLM call fell back to the local provider (the simulator's, or the agent's own)"
    defaults: ClassVar[dict[str, Any]] = {"local_provider_pattern": r"ollama|local"}

    def on_fallback(self, ctx: HookContext, event: LLMFallback) -> None:
        if re.search(self.settings["local_provider_pattern"], event.to_provider, re.IGNORECASE):
            ctx.report(
                f"simulated user fell back {event.from_provider} → {event.to_provider} ({event.reason})",
                side="simulator",
                from_provider=event.from_provider,
                to_provider=event.to_provider,
                reason=event.reason,
            )


class ShortResponses(Hook):
    name = "short_responses"
    priority = "business"
    description = "a suspiciously short reply"
    defaults: ClassVar[dict[str, Any]] = {"min_chars": 20}

    def on_reply(self, ctx: HookContext, turn: TurnRecord, raw: Any) -> None:
        text = (turn.reply_text or "").strip()
        if len(text) < self.settings["min_chars"]:
            ctx.report(
                f"reply of {len(text)} characters", iteration=turn.iteration, reply=text, agent=turn.agent
            )


class FastResponses(Hook):
    """One finding per conversation, not per reply: an agent that answers too fast usually does so on
    every turn (a canned or cached path), and a finding per turn would repeat the same news on every
    turn, in every report and in the results store."""

    name = "fast_responses"
    priority = "quality"
    description = "replies came suspiciously fast (canned, cached, or not really processed)"
    defaults: ClassVar[dict[str, Any]] = {"ms": 100.0}

    def on_reply(self, ctx: HookContext, turn: TurnRecord, raw: Any) -> None:
        if turn.latency_ms is not None and turn.latency_ms < self.settings["ms"]:
            ctx.state.setdefault("fast", []).append((turn.iteration, turn.latency_ms))

    def on_conversation_end(self, ctx: HookContext, record: ConversationRecord) -> None:
        fast: list[tuple[int, float]] = ctx.state.get("fast", [])
        if not fast:
            return
        iteration, fastest = min(fast, key=lambda item: item[1])
        replies = sum(1 for turn in record.turns if turn.latency_ms is not None) or len(fast)
        ctx.report(
            f"{len(fast)} of {replies} replies under {self.settings['ms']:g} ms "
            f"(fastest {fastest:.1f} ms, turn {iteration})",
            iteration=iteration,
            count=len(fast),
            replies=replies,
            iterations=[i for i, _ in fast],
            fastest_ms=fastest,
        )


class EngagedUsers(Hook):
    name = "engaged_users"
    priority = "quality"
    description = "a customer with many interactions"
    defaults: ClassVar[dict[str, Any]] = {"min_turns": 8}

    def on_conversation_end(self, ctx: HookContext, record: ConversationRecord) -> None:
        if record.iterations >= self.settings["min_turns"]:
            ctx.report(
                f"{record.iterations} turns", turns=record.iterations, goal_reached=record.goal_reached
            )


BUILTIN_HOOKS: dict[str, type[Hook]] = {
    h.name: h
    for h in (
        AgentTransitions,
        SlowResponses,
        ErrorResponses,
        OllamaFallbacks,
        ShortResponses,
        FastResponses,
        EngagedUsers,
    )
}
