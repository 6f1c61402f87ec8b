"""Turn conversation events into Locust request events.

Request types: MESSAGE (one turn: send -> complete reply), WEBHOOK (ack ->
callback), CONVERSATION (the whole dialogue; response_length = turns), LLM (a
simulated-user LLM call; response_length = output tokens, tokens and cost in
the context). Names
are the persona, never the session id, so Locust's tables stay small. Failure
texts are low-cardinality (error kind and status) for Locust's error table.

Failed turns and interrupted conversations are reported with no response time
(Locust counts them, as failures, but keeps them out of its percentiles), the
way our own aggregate leaves them out: a failure's elapsed time is not a
latency. Locust's histogram is made finer first (see load.bucketing).
"""

from __future__ import annotations

from typing import Any

from convoload.errors import ConvoloadError
from convoload.events import ConversationFinished, EventBus, LLMCalled, ReplyReceived, TurnFailed
from convoload.load.bucketing import install_fine_buckets
from convoload.model import Outcome


class TurnFailure(ConvoloadError):
    """A failed turn, as Locust's statistics name it (given to its request event, never raised)."""


class ConversationFailure(ConvoloadError):
    """A failed conversation, as Locust's statistics name it (never raised)."""


def bridge_to_locust(bus: EventBus, events: Any) -> None:
    install_fine_buckets()
    fire = events.request.fire

    def on_reply(event: ReplyReceived) -> None:
        turn = event.turn
        context = {"session_id": event.session_id, "iteration": turn.iteration, "agent": turn.agent}
        fire(
            request_type="MESSAGE",
            name=event.persona,
            response_time=turn.latency_ms,
            response_length=len(turn.reply_text or ""),
            exception=None,
            context=context,
        )
        if turn.ack_ms is not None:
            fire(
                request_type="WEBHOOK",
                name=event.persona,
                response_time=max(0.0, turn.latency_ms - turn.ack_ms),
                response_length=len(turn.reply_messages),
                exception=None,
                context=context,
            )

    def on_failed(event: TurnFailed) -> None:
        error = event.error
        label = f"{error.kind.value} {error.status_code}" if error.status_code else error.kind.value
        context = {"session_id": event.session_id, "iteration": event.iteration, "ack_ms": event.turn.ack_ms}
        fire(
            request_type="MESSAGE",
            name=event.persona,
            response_time=None,
            response_length=0,
            exception=TurnFailure(label),
            context=context,
        )
        if error.kind.value == "webhook_timeout":
            fire(
                request_type="WEBHOOK",
                name=event.persona,
                response_time=None,
                response_length=0,
                exception=TurnFailure(label),
                context=context,
            )

    def on_finished(event: ConversationFinished) -> None:
        record = event.record
        exception = None
        if record.outcome == Outcome.ERROR and record.error:
            exception = ConversationFailure(f"error: {record.error.kind.value}")
        elif record.outcome != Outcome.GOAL_REACHED:
            exception = ConversationFailure(record.outcome.value if record.outcome else "unknown")
        interrupted = record.outcome == Outcome.INTERRUPTED
        fire(
            request_type="CONVERSATION",
            name=event.persona,
            response_time=None if interrupted else record.total_time_ms,
            response_length=record.iterations,
            exception=exception,
            context={
                "session_id": event.session_id,
                "outcome": record.outcome.value if record.outcome else None,
            },
        )

    def on_llm(event: LLMCalled) -> None:
        # The simulator's own latency and cost, kept apart from the agent's (request type LLM).
        if event.from_cache:
            return
        fire(
            request_type="LLM",
            name=f"{event.provider}/{event.model}",
            response_time=event.latency_ms,
            response_length=event.completion_tokens,
            exception=None,
            context={
                "session_id": event.session_id,
                "persona": event.persona,
                "prompt_tokens": event.prompt_tokens,
                "completion_tokens": event.completion_tokens,
                "cached_tokens": event.cached_tokens,
                "cost_usd": event.cost_usd,
                "attempts": event.attempts,
            },
        )

    bus.subscribe(ReplyReceived, on_reply)
    bus.subscribe(LLMCalled, on_llm)
    bus.subscribe(TurnFailed, on_failed)
    bus.subscribe(ConversationFinished, on_finished)
