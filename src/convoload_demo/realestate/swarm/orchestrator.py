"""The swarm loop: run the active agent's brain, execute its tool calls, follow handoffs.

In the spirit of openai/swarm's ``core.py``: a turn appends the customer's message, then repeatedly
asks the brain for the next step. Tool results go back into the history; a ``transfer_to_<agent>``
call switches the active agent and the turn continues with it; a plain message ends the turn.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from convoload.llm.types import LLMUnavailable, ToolCall
from convoload_demo.realestate.swarm.agents import FIRST_AGENT, Agent, build_agents
from convoload_demo.realestate.swarm.brain import Brain, BrainDecision, BrainTurn, Message
from convoload_demo.realestate.swarm.events import (
    AgentStarted,
    Handoff,
    LLMCall,
    MessageOutput,
    SwarmEvent,
    ToolCalled,
    ToolResult,
)
from convoload_demo.realestate.swarm.tools import AgentTool, CatalogLike, summarize

log = logging.getLogger("convoload_demo.realestate.swarm")

STEP_CAP_MESSAGE = (
    "Desculpe, não consegui concluir isso agora. Pode reformular? / "
    "Sorry, I could not finish that just now. Could you rephrase?"
)
UNAVAILABLE_MESSAGE = (
    "Desculpe, nosso assistente está indisponível no momento. Tente novamente em instantes. / "
    "Sorry, our assistant is unavailable right now. Please try again shortly."
)


@dataclass
class SwarmReply:
    text: str
    agent: str  # the agent that produced the final message of the turn
    handoffs: list[tuple[str, str]] = field(default_factory=list)
    tool_calls: list[str] = field(default_factory=list)
    events: list[SwarmEvent] = field(default_factory=list)


@dataclass
class _Session:
    agent: str = FIRST_AGENT
    history: list[Message] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class SwarmOrchestrator:
    def __init__(
        self,
        catalog: CatalogLike,
        brain: Brain,
        *,
        max_steps_per_turn: int = 8,
        observer: Callable[[SwarmEvent], None] | None = None,
        max_sessions: int = 10_000,
    ) -> None:
        self.catalog = catalog
        self.brain = brain
        self.agents: dict[str, Agent] = build_agents(catalog)
        self.max_steps_per_turn = max_steps_per_turn
        self.observer = observer
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._lock = threading.Lock()

    def active_agent(self, session_id: str) -> str:
        return self._session(session_id).agent

    def history(self, session_id: str) -> list[Message]:
        return list(self._session(session_id).history)

    def _session(self, session_id: str) -> _Session:
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                session = self._sessions[session_id] = _Session()
                # Load tests open many sessions: forget the least recently used ones.
                while len(self._sessions) > self.max_sessions:
                    self._sessions.popitem(last=False)
            self._sessions.move_to_end(session_id)
            return session

    def reply(self, session_id: str, text: str) -> SwarmReply:
        """Run one customer turn; turns of one session are serialised, sessions run in parallel."""
        session = self._session(session_id)
        with session.lock:
            return _Turn(self, session_id, session).run(text)


class _Turn:
    """One customer message and everything the swarm does until it answers."""

    def __init__(self, swarm: SwarmOrchestrator, session_id: str, session: _Session) -> None:
        self.swarm = swarm
        self.session_id = session_id
        self.session = session
        self.reply = SwarmReply(text="", agent=session.agent)

    def emit(self, event: SwarmEvent) -> None:
        self.reply.events.append(event)
        if self.swarm.observer is not None:
            self.swarm.observer(event)

    def run(self, text: str) -> SwarmReply:
        history = self.session.history
        history.append({"role": "user", "content": text})
        self.emit(AgentStarted(session_id=self.session_id, agent=self.session.agent))
        for _ in range(self.swarm.max_steps_per_turn):
            agent = self.swarm.agents[self.session.agent]
            try:
                decision = self.swarm.brain.decide(BrainTurn(self.session_id, agent, history))
            except LLMUnavailable as exc:
                log.warning("session %s: %s", self.session_id, exc)
                return self._finish(agent.name, UNAVAILABLE_MESSAGE)
            if decision.usage is not None:
                self.emit(LLMCall(session_id=self.session_id, agent=agent.name, **_fields(decision.usage)))
            if decision.text is not None and not decision.tool_calls:
                return self._finish(agent.name, decision.text)
            if decision.rejected is not None:
                self._reject(agent, decision.rejected)
            else:
                self._run_calls(agent, decision)
        # The step cap keeps a confused brain (or model) from looping forever.
        return self._finish(self.session.agent, STEP_CAP_MESSAGE)

    def _finish(self, agent: str, text: str) -> SwarmReply:
        self.session.history.append({"role": "assistant", "content": text})
        self.emit(MessageOutput(session_id=self.session_id, agent=agent, text=text))
        self.reply.text, self.reply.agent = text, agent
        return self.reply

    def _reject(self, agent: Agent, reason: str) -> None:
        self.emit(
            ToolResult(session_id=self.session_id, agent=agent.name, tool="?", ok=False, summary=reason)
        )
        notice = f"[tool error] Your last tool call was invalid: {reason}. Call a listed tool or answer."
        self.session.history.append({"role": "user", "content": notice})

    def _run_calls(self, agent: Agent, decision: BrainDecision) -> None:
        calls = [
            c if c.id else ToolCall(c.name, c.arguments, f"call_{uuid.uuid4().hex[:12]}")
            for c in decision.tool_calls
        ]
        self.session.history.append(
            {
                "role": "assistant",
                "content": decision.text,
                "tool_calls": [
                    {
                        "id": c.id,
                        "type": "function",
                        "function": {
                            "name": c.name,
                            "arguments": json.dumps(c.arguments, ensure_ascii=False),
                        },
                    }
                    for c in calls
                ],
            }
        )
        for call in calls:
            result = self._execute(agent, call)
            content = json.dumps(result, ensure_ascii=False, default=str)
            self.session.history.append({"role": "tool", "tool_call_id": call.id, "content": content})

    def _execute(self, agent: Agent, call: ToolCall) -> dict[str, Any]:
        self.reply.tool_calls.append(call.name)
        self.emit(
            ToolCalled(session_id=self.session_id, agent=agent.name, tool=call.name, arguments=call.arguments)
        )
        tool = agent.tool(call.name)
        if tool is None:
            known = ", ".join(t.name for t in agent.tools)
            return self._failed(agent, call.name, f"unknown tool {call.name!r}; available: {known}")
        if tool.handoff_to is not None:
            return self._handoff(agent, tool)
        missing = [name for name in tool.required if name not in call.arguments]
        if missing:
            return self._failed(agent, call.name, f"missing arguments: {', '.join(missing)}")
        try:
            result = _call(tool, call.arguments)
        except TypeError as exc:
            return self._failed(agent, call.name, f"invalid arguments: {exc}")
        except Exception as exc:
            # Catalog errors (404, 409 with alternatives, validation) go back to the brain as data.
            return self._failed(agent, call.name, _error_text(exc), _error_extra(exc))
        self.emit(
            ToolResult(
                session_id=self.session_id,
                agent=agent.name,
                tool=call.name,
                ok=True,
                summary=summarize(call.name, result),
            )
        )
        return result

    def _failed(
        self, agent: Agent, tool: str, error: str, extra: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        self.emit(
            ToolResult(session_id=self.session_id, agent=agent.name, tool=tool, ok=False, summary=error)
        )
        return {"error": error, **(extra or {})}

    def _handoff(self, agent: Agent, tool: AgentTool) -> dict[str, Any]:
        target = tool.handoff_to
        assert target is not None
        self.session.agent = target
        self.reply.handoffs.append((agent.name, target))
        self.emit(Handoff(session_id=self.session_id, from_agent=agent.name, to_agent=target))
        self.emit(
            ToolResult(
                session_id=self.session_id,
                agent=agent.name,
                tool=tool.name,
                ok=True,
                summary=f"now talking to {target}",
            )
        )
        self.emit(AgentStarted(session_id=self.session_id, agent=target))
        return {"assistant": target}


def _call(tool: AgentTool, arguments: dict[str, Any]) -> dict[str, Any]:
    assert tool.function is not None
    return tool.function(**arguments)


def _fields(usage: Any) -> dict[str, Any]:
    return {name: getattr(usage, name) for name in usage.__slots__}


def _error_text(exc: Exception) -> str:
    status = getattr(exc, "status", None)
    detail = getattr(exc, "detail", None) or str(exc)
    return f"HTTP {status}: {detail}" if status else f"{type(exc).__name__}: {detail}"


def _error_extra(exc: Exception) -> dict[str, Any]:
    """Status and the 409's free alternatives, when the catalog client gave them."""
    extra: dict[str, Any] = {}
    status = getattr(exc, "status", None)
    if status is not None:
        extra["status"] = status
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and isinstance(body.get("alternatives"), list):
        extra["alternatives"] = body["alternatives"]
    return extra
