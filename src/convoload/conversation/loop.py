"""One conversation, start to finish. Readable in one sitting on purpose.

The loop asks the simulated user for a message, sends it to the target, checks
the reply against the goal, and repeats until the goal is reached, the user
stops, a turn fails, or `max_iterations` turns have been taken. Everything that
happens is emitted on the event bus; the returned record is complete even when
the conversation is cut off (interrupted conversations are never successes).
"""

from __future__ import annotations

import logging
import time

from gevent import GreenletExit

from convoload.conversation.goals import GoalDetector
from convoload.envsecrets import redact
from convoload.events import (
    AgentChanged,
    ConversationFinished,
    ConversationStarted,
    EventBus,
    ReplyReceived,
    TurnFailed,
    TurnSent,
)
from convoload.model import (
    ConversationRecord,
    ErrorKind,
    Outcome,
    TurnError,
    TurnRecord,
    utc_now,
)
from convoload.targets.base import Session, Target, TargetError, redact_reply
from convoload.users.base import SimulatedUser, UserFailure

log = logging.getLogger(__name__)


def run_conversation(
    *,
    run_id: str,
    session: Session,
    user: SimulatedUser,
    target: Target,
    goal: GoalDetector,
    bus: EventBus,
    max_iterations: int = 15,
    think_time: float = 0.0,
) -> ConversationRecord:
    record = ConversationRecord(
        run_id=run_id,
        session_id=session.session_id,
        user_id=session.user_id,
        persona=session.persona,
        identity=session.identity.as_dict(),
        started_at=utc_now(),
    )
    ids = {"session_id": session.session_id, "persona": session.persona}
    bus.emit(ConversationStarted(**ids, user_id=session.user_id, identity=record.identity))
    started = time.perf_counter()
    previous_agent: str | None = None
    try:
        record.outcome = Outcome.MAX_ITERATIONS
        for iteration in range(1, max_iterations + 1):
            try:
                message = user.next_message(record.turns)
            except UserFailure as exc:
                if exc.usage is not None:
                    record.usage.add(exc.usage)
                record.error = TurnError(kind=exc.kind, message=redact(exc.message))
                record.outcome = Outcome.ERROR if exc.fault is None else Outcome.SIMULATOR_ERROR
                record.simulator_fault = exc.fault
                break
            except Exception as exc:  # a simulated user failing is a fault to count, not a crash
                record.error = TurnError(kind=ErrorKind.USER, message=redact(f"{type(exc).__name__}: {exc}"))
                record.outcome = Outcome.ERROR
                break
            if message is not None and message.usage is not None:
                record.usage.add(message.usage)
            if message is None or message.stop:
                record.outcome = Outcome.USER_STOPPED
                record.stop_reason = user.stop_reason and redact(user.stop_reason)
                break
            turn = TurnRecord(
                iteration=iteration,
                user_text=redact(message.text),  # as recorded: what the user said may quote the agent
                sent_at=utc_now(),
                usage=message.usage,
            )
            record.turns.append(turn)
            if bus.wants(TurnSent):  # most runs have no listener (the live transcript is one)
                bus.emit(TurnSent(**ids, iteration=iteration, text=turn.user_text))
            try:
                # Secrets out before anything reads the reply: hooks, goal, records, transcript.
                reply = redact_reply(target.send(session, message.text, iteration))
            except TargetError as exc:
                turn.error = TurnError(kind=exc.kind, message=exc.message, status_code=exc.status_code)
                turn.ack_ms = _us(exc.ack_ms)
                record.error = turn.error
                record.outcome = Outcome.ERROR
                bus.emit(TurnFailed(**ids, iteration=iteration, error=turn.error, turn=turn))
                break
            # The detector reads the messages, not only the joined text: a reply split across several
            # messages (callbacks) may cut the very link the customer came for.
            hit = goal(reply.messages or reply.text)
            if reply.cost_usd:  # what the agent said its turn cost (cost per successful conversation)
                record.agent_cost_usd += reply.cost_usd
            turn.reply_text = reply.text
            turn.reply_messages = reply.messages
            turn.agent = reply.agent
            turn.replied_at = utc_now()
            turn.latency_ms = _us(reply.latency_ms)
            turn.ack_ms = _us(reply.ack_ms)
            turn.goal_reached = hit is not None
            turn.goal_evidence = hit.evidence if hit is not None else None
            bus.emit(ReplyReceived(**ids, turn=turn, raw=reply.raw))
            if reply.agent and reply.agent != previous_agent:
                if previous_agent is not None:
                    bus.emit(
                        AgentChanged(**ids, iteration=iteration, previous=previous_agent, current=reply.agent)
                    )
                previous_agent = reply.agent
            if turn.goal_reached:
                record.outcome = Outcome.GOAL_REACHED
                break
            if think_time > 0 and iteration < max_iterations:
                time.sleep(think_time)  # cooperative under gevent
        else:
            record.stop_reason = f"no goal after {max_iterations} iterations"
    except (GreenletExit, KeyboardInterrupt):
        record.outcome = Outcome.INTERRUPTED
        record.stop_reason = "cut off by the end of the test"
        raise
    except Exception as exc:
        log.exception("conversation %s failed inside convoload", session.session_id)
        record.error = TurnError(kind=ErrorKind.INTERNAL, message=redact(f"{type(exc).__name__}: {exc}"))
        record.outcome = Outcome.ERROR
    finally:
        target.finish(session)
        record.finished_at = utc_now()
        record.total_time_ms = _us((time.perf_counter() - started) * 1000)
        bus.emit(ConversationFinished(**ids, record=record))
    return record


def _us(ms: float | None) -> float | None:
    """Milliseconds kept to the microsecond, so records round-trip through JSON unchanged."""
    return None if ms is None else round(ms, 3)
