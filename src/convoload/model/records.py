"""Records of turns and conversations: what gets journaled, reported and compared.

Turn records are slots dataclasses: the conversation loop creates one per turn and fills in the
reply when it comes, which costs plain attribute stores; pydantic still validates them wherever a
record is read back (`ConversationRecord.from_document`) and serialises them by their schema.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field, TypeAdapter

_second: tuple[int, str] = (-1, "")
_millisecond: tuple[int, str] = (-1, "")


def utc_now() -> str:
    """UTC to the millisecond, e.g. 2026-11-23T14:05:09.123Z.

    Called about three times a turn: under load many calls fall in the same millisecond, which is
    then formatted once, and the part up to the second once a second.
    """
    global _second, _millisecond
    ms = int(time.time() * 1000)
    if _millisecond[0] == ms:
        return _millisecond[1]
    whole = ms // 1000
    if _second[0] != whole:
        _second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    text = f"{_second[1]}.{ms % 1000:03d}Z"
    _millisecond = (ms, text)
    return text


class ErrorKind(StrEnum):
    """Why a turn failed. Each kind is counted separately in stats and reports."""

    TIMEOUT = "timeout"  # the target did not answer the request in time
    WEBHOOK_TIMEOUT = "webhook_timeout"  # acknowledged, but no callback arrived in time
    HTTP_STATUS = "http_status"  # the target answered with a 4xx/5xx status
    CONNECTION = "connection_refused"  # could not connect (refused, unreachable, DNS)
    CONNECTION_LOST = "connection_lost"  # connected, but the connection broke before a response
    MALFORMED = "malformed_reply"  # not JSON, or the reply path is missing
    EMPTY = "empty_reply"  # a reply without text
    TARGET_EXCEPTION = "target_exception"  # an in-process (python) target raised
    PLATFORM = "platform_error"  # an emulated platform refused every call of the bot's turn
    USER = "user_error"  # the simulated user could not produce a message
    LLM = "llm_error"  # the simulated user's LLM providers all failed, after retries
    SIMULATOR = "simulator_error"  # the simulated user's message broke the simulation, after a retry
    INTERNAL = "internal_error"  # a bug on our side; logged with its traceback


class Outcome(StrEnum):
    GOAL_REACHED = "goal_reached"
    USER_STOPPED = "user_stopped"
    MAX_ITERATIONS = "max_iterations"
    ERROR = "error"
    INTERRUPTED = "interrupted"  # cut off by the end of the test or a signal
    # The simulated user broke the simulation (users.simcheck), also after a retry: never the agent's
    # fault, so never counted in its goal rate or grade.
    SIMULATOR_ERROR = "simulator_error"


class SimulatorFault(StrEnum):
    """How a simulated user's message broke the simulation (see users.simcheck)."""

    EMPTY = "empty"  # empty or whitespace only
    ROLE_LEAK = "role_leak"  # wrote as the agent, leaked its reasoning or its prompt
    NO_STOP = "no_stop"  # said goodbye without the stop token
    STOP_MID = "stop_mid"  # the stop token with text after it
    LANGUAGE_DRIFT = "language_drift"  # not in the persona's language
    IDENTITY_DRIFT = "identity_drift"  # a name, CPF, e-mail or phone not its own


class TurnError(BaseModel):
    kind: ErrorKind
    message: str
    status_code: int | None = None


class Usage(BaseModel):
    """Tokens and cost spent by the simulated user (LLM users); zero for scripted users."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0  # part of prompt_tokens served from the provider's prompt cache
    reasoning_tokens: int = 0  # part of completion_tokens spent thinking
    cost_usd: float = 0.0
    llm_calls: int = 0  # calls answered by a provider
    replayed_calls: int = 0  # calls answered from the record/replay cache (cost nothing)
    saved_tokens: int = 0  # tokens the replayed calls had cost when recorded
    saved_cost_usd: float = 0.0

    def tokens_summary(self) -> dict[str, int]:
        return {
            "prompt": self.prompt_tokens,
            "completion": self.completion_tokens,
            "cached": self.cached_tokens,
            "reasoning": self.reasoning_tokens,
            "total": self.total_tokens,
        }

    def llm_summary(self) -> dict[str, Any]:
        calls = self.llm_calls + self.replayed_calls
        return {
            "calls": self.llm_calls,
            "replayed_calls": self.replayed_calls,
            "replayed_pct": round(100 * self.replayed_calls / calls, 2) if calls else 0.0,
            "saved_tokens": self.saved_tokens,
            "saved_cost_usd": round(self.saved_cost_usd, 8),
        }

    def add(self, other: Usage) -> None:
        for name in _USAGE_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))


_USAGE_FIELDS = tuple(Usage.model_fields)

Priority = Literal["critical", "business", "quality"]


class Finding(BaseModel):
    """Something a hook noticed in one conversation (or one of its turns)."""

    hook: str
    priority: Priority
    session_id: str
    persona: str
    iteration: int | None = None
    message: str
    data: dict[str, Any] = Field(default_factory=dict)
    at: str = Field(default_factory=utc_now)


@dataclass(slots=True)
class TurnRecord:
    """One user message and the agent's complete reply to it (the loop fills in the reply)."""

    iteration: int
    user_text: str
    sent_at: str
    reply_text: str | None = None
    reply_messages: list[str] = field(default_factory=list)
    agent: str | None = None
    replied_at: str | None = None
    latency_ms: float | None = None  # send -> complete reply
    ack_ms: float | None = None  # send -> acknowledgement (webhook targets)
    error: TurnError | None = None
    goal_reached: bool = False
    goal_evidence: str | None = None  # what showed the goal reached: the link, the text matched
    usage: Usage | None = None  # what the simulated user spent to write this turn's message (LLM users)


class ConversationRecord(BaseModel):
    """A whole dialogue with its outcome. Serialised as {summary, messages, turns}."""

    run_id: str
    session_id: str
    user_id: int
    persona: str
    identity: dict[str, str] = Field(default_factory=dict)
    started_at: str
    finished_at: str | None = None
    outcome: Outcome | None = None
    stop_reason: str | None = None
    error: TurnError | None = None
    total_time_ms: float = 0.0
    turns: list[TurnRecord] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    findings: list[Finding] = Field(default_factory=list)
    simulator_fault: SimulatorFault | None = None  # set with outcome simulator_error
    agent_cost_usd: float = 0.0  # what the agent reported its turns cost (TargetReply.cost_usd)
    # `convoload rerun`: the session this conversation plays again, and the first turn whose user
    # message did not follow the original's (None: it followed it throughout).
    rerun_of: str | None = None
    diverged_at: int | None = None

    @property
    def goal_reached(self) -> bool:
        return self.outcome == Outcome.GOAL_REACHED

    @property
    def iterations(self) -> int:
        return len(self.turns)

    @property
    def agents(self) -> list[str]:
        return [t.agent for t in self.turns if t.agent]

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "run_id": self.run_id,
            "session_id": self.session_id,
            "user_id": self.user_id,
            "persona": self.persona,
            "outcome": self.outcome.value if self.outcome else None,
            "stop_reason": self.stop_reason,
            "error": self.error.model_dump(mode="json") if self.error else None,
            "iterations": self.iterations,
            "goal_reached": self.goal_reached,
            "found_link": self.goal_reached,  # the name our users' existing dashboards read
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "total_time_ms": round(self.total_time_ms, 3),
            "tokens": self.usage.tokens_summary(),
            "total_cost_usd": round(self.usage.cost_usd, 8),
            "llm": self.usage.llm_summary(),
        }
        # Only when set: every other conversation's summary keeps the shape earlier versions wrote.
        if self.simulator_fault is not None:
            out["simulator_fault"] = self.simulator_fault.value
        if self.agent_cost_usd:
            out["agent_cost_usd"] = round(self.agent_cost_usd, 8)
        if self.rerun_of is not None:
            out["rerun_of"] = self.rerun_of
            out["diverged_at"] = self.diverged_at
        return out

    def messages(self) -> list[dict[str, Any]]:
        """The transcript as a flat list of user and assistant messages."""
        out: list[dict[str, Any]] = []
        for turn in self.turns:
            out.append(
                {
                    "role": "user",
                    "iteration": turn.iteration,
                    "text": turn.user_text,
                    "timestamp": turn.sent_at,
                }
            )
            if turn.reply_text is not None:
                out.append(
                    {
                        "role": "assistant",
                        "iteration": turn.iteration,
                        "text": turn.reply_text,
                        "timestamp": turn.replied_at,
                        "agent": turn.agent,
                        "latency_ms": _round(turn.latency_ms),
                        "ack_ms": _round(turn.ack_ms),
                    }
                )
            if turn.error is not None:
                out.append(
                    {
                        "role": "error",
                        "iteration": turn.iteration,
                        "kind": turn.error.kind.value,
                        "text": turn.error.message,
                        "status_code": turn.error.status_code,
                    }
                )
        return out

    def to_document(self) -> dict[str, Any]:
        return _DOCUMENT.dump_python(self._document(), mode="json")

    def to_json(self) -> bytes:
        """The document as compact UTF-8 JSON: what `to_document` gives, serialised.

        pydantic-core writes the turns and findings straight from their schema (every finished
        conversation of a load test goes through here). Floats under 1e-4 print as 1e-7, not
        json.dumps's 1e-07.
        """
        return _DOCUMENT.dump_json(self._document())

    def _document(self) -> _Document:
        return _Document(self.summary(), self.identity, self.messages(), self.turns, self.findings)

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> ConversationRecord:
        summary = doc["summary"]
        return cls(
            run_id=summary["run_id"],
            session_id=summary["session_id"],
            user_id=summary["user_id"],
            persona=summary["persona"],
            identity=doc.get("identity", {}),
            started_at=summary["started_at"],
            finished_at=summary.get("finished_at"),
            outcome=summary.get("outcome"),
            stop_reason=summary.get("stop_reason"),
            error=summary.get("error"),
            total_time_ms=summary.get("total_time_ms", 0.0),
            turns=doc.get("turns", []),
            findings=doc.get("findings", []),
            simulator_fault=summary.get("simulator_fault"),
            agent_cost_usd=summary.get("agent_cost_usd", 0.0),
            rerun_of=summary.get("rerun_of"),
            diverged_at=summary.get("diverged_at"),
            usage=Usage(
                prompt_tokens=summary["tokens"]["prompt"],
                completion_tokens=summary["tokens"]["completion"],
                total_tokens=summary["tokens"]["total"],
                cached_tokens=summary["tokens"].get("cached", 0),
                reasoning_tokens=summary["tokens"].get("reasoning", 0),
                cost_usd=summary["total_cost_usd"],
                llm_calls=summary.get("llm", {}).get("calls", 0),
                replayed_calls=summary.get("llm", {}).get("replayed_calls", 0),
                saved_tokens=summary.get("llm", {}).get("saved_tokens", 0),
                saved_cost_usd=summary.get("llm", {}).get("saved_cost_usd", 0.0),
            ),
        )


@dataclass(slots=True)
class _Document:
    """A conversation as the journal and the results store hold it: {summary, ..., findings}."""

    summary: dict[str, Any]
    identity: dict[str, str]
    messages: list[dict[str, Any]]
    turns: list[TurnRecord]
    findings: list[Finding]


_DOCUMENT = TypeAdapter(_Document)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
