"""The hook API and the runner that feeds hooks from the event bus.

A hook is a class with any of the `on_*` methods below; each gets a context
whose `report()` records a finding for the conversation. Findings are attached
to the conversation record before it is journaled, so they are in every
report. Users add their own hooks in the config as `module:Class` (a Hook
subclass) or `module:function` (called as `function(event, report)` for every
event); packs register theirs under the `convoload.hooks` entry-point group.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, ClassVar

from convoload.envsecrets import redact, redact_value
from convoload.events import (
    AgentChanged,
    ConversationFinished,
    ConversationStarted,
    Event,
    EventBus,
    Judged,
    LLMCalled,
    LLMFallback,
    ReplyReceived,
    TurnFailed,
)
from convoload.model import ConversationRecord, Finding, Priority, TurnRecord

log = logging.getLogger(__name__)


class HookContext:
    """Where a hook reports, and keeps its own notes (`state`); one per hook and conversation."""

    def __init__(self, hook: Hook, session_id: str, persona: str, sink: list[Finding]) -> None:
        self._hook = hook
        self.session_id = session_id
        self.persona = persona
        self._sink = sink
        self.state: dict[str, Any] = {}  # the hook's notes on this conversation, gone when it ends

    def report(self, message: str, *, iteration: int | None = None, **data: Any) -> None:
        # Hooks quote what they saw (replies, raw documents, errors): no secret goes into a finding.
        self._sink.append(
            Finding(
                hook=self._hook.name,
                priority=self._hook.priority,
                session_id=self.session_id,
                persona=self.persona,
                iteration=iteration,
                message=redact(message),
                data=redact_value(data),
            )
        )


class Hook:
    """Subclass, set `name`, `priority` and `defaults` (thresholds), and implement the `on_*` you need.

    `domains`: the domains (`tickets`, `realestate`, a playbook's `domain`) whose conversations an
    installed hook is about; None for every conversation. A run enables such a hook when its personas'
    playbooks (or the bundled system it talks to) share a domain with it, or when `hooks.any_domain`
    or `hooks.custom` names it. Packs register hook classes under the `convoload.hooks` entry-point
    group, by their `name`.
    """

    name: ClassVar[str] = "hook"
    priority: ClassVar[Priority] = "quality"
    description: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}
    domains: ClassVar[frozenset[str] | None] = None

    def __init__(self, **thresholds: Any) -> None:
        unknown = set(thresholds) - set(self.defaults)
        if unknown:
            raise ValueError(
                f"unknown threshold(s) for {self.name}: {', '.join(sorted(unknown))} "
                f"(known: {', '.join(sorted(self.defaults)) or 'none'})"
            )
        self.settings = {**self.defaults, **thresholds}

    def on_reply(self, ctx: HookContext, turn: TurnRecord, raw: Any) -> None: ...

    def on_agent_change(self, ctx: HookContext, event: AgentChanged) -> None: ...

    def on_error(self, ctx: HookContext, event: TurnFailed) -> None: ...

    def on_llm_call(self, ctx: HookContext, event: LLMCalled) -> None: ...

    def on_fallback(self, ctx: HookContext, event: LLMFallback) -> None: ...

    def on_conversation_end(self, ctx: HookContext, record: ConversationRecord) -> None: ...

    def on_judgement(self, ctx: HookContext, event: Judged) -> None:
        """The judge scored a finished conversation (`convoload judge RUN`, after the run).

        ctx: reports go into the judgement's `findings` (the conversation's record is written already).
        event: `event.judgement` holds the scores, reasons, pass and the judge's cost.
        """


class FunctionHook(Hook):
    """A user's plain function, called with every event and a `report` function."""

    priority = "business"

    def __init__(self, function: Callable[[Event, Callable[..., None]], None], name: str) -> None:
        super().__init__()
        self.function = function
        self.name = name  # type: ignore[misc]

    def on_event(self, ctx: HookContext, event: Event) -> None:
        self.function(event, ctx.report)


_METHODS = ("on_reply", "on_agent_change", "on_error", "on_llm_call", "on_fallback", "on_conversation_end")


class HookRunner:
    """Feeds every hook from the bus; attaches each conversation's findings to its record."""

    def __init__(self, bus: EventBus, hooks: list[Hook]) -> None:
        self.hooks = hooks
        # Per method, the positions of the hooks that implement it: every reply of every conversation
        # goes through here, and most hooks implement one or two of the six methods.
        self._implementing = {
            method: [
                (i, getattr(h, method))
                for i, h in enumerate(hooks)
                if getattr(type(h), method) is not getattr(Hook, method)
            ]
            for method in _METHODS
        }
        self._findings: dict[str, list[Finding]] = {}
        self._contexts: dict[str, list[HookContext]] = {}
        bus.subscribe(ConversationStarted, self._started)
        bus.subscribe(ReplyReceived, lambda e: self._each(e, "on_reply", e.turn, e.raw))
        bus.subscribe(AgentChanged, lambda e: self._each(e, "on_agent_change", e))
        bus.subscribe(TurnFailed, lambda e: self._each(e, "on_error", e))
        bus.subscribe(LLMCalled, lambda e: self._each(e, "on_llm_call", e))
        bus.subscribe(LLMFallback, lambda e: self._each(e, "on_fallback", e))
        bus.subscribe(ConversationFinished, self._finished)
        bus.subscribe(Judged, self._judged)
        if any(isinstance(h, FunctionHook) for h in hooks):
            bus.subscribe(Event, self._function_hooks)

    def _started(self, event: ConversationStarted) -> None:
        sink: list[Finding] = []
        self._findings[event.session_id] = sink
        self._contexts[event.session_id] = [
            HookContext(h, event.session_id, event.persona, sink) for h in self.hooks
        ]

    def _each(self, event: Event, method: str, *args: Any) -> None:
        contexts = self._contexts.get(event.session_id)
        if contexts is None:
            return
        for i, call in self._implementing[method]:
            try:
                call(contexts[i], *args)
            except Exception:  # a broken hook must not break the conversation it watches
                log.exception("hook %s failed in %s", self.hooks[i].name, method)

    def _function_hooks(self, event: Event) -> None:
        if isinstance(event, ConversationStarted | ConversationFinished):
            return  # started: no context yet; finished: delivered by _finished before findings move
        for hook, ctx in zip(self.hooks, self._contexts.get(event.session_id, ()), strict=False):
            if isinstance(hook, FunctionHook):
                try:
                    hook.on_event(ctx, event)
                except Exception:
                    log.exception("hook %s failed", hook.name)

    def _judged(self, event: Judged) -> None:
        # Judged after the conversation ended: a context of its own, reporting into the judgement.
        for hook in self.hooks:
            if type(hook).on_judgement is Hook.on_judgement:
                continue
            ctx = HookContext(hook, event.session_id, event.persona, event.judgement.findings)
            try:
                hook.on_judgement(ctx, event)
            except Exception:  # a broken hook must not break the judging
                log.exception("hook %s failed in on_judgement", hook.name)

    def _finished(self, event: ConversationFinished) -> None:
        self._each(event, "on_conversation_end", event.record)
        for hook, ctx in zip(self.hooks, self._contexts.get(event.session_id, ()), strict=False):
            if isinstance(hook, FunctionHook):
                try:
                    hook.on_event(ctx, event)
                except Exception:
                    log.exception("hook %s failed", hook.name)
        event.record.findings.extend(self._findings.pop(event.session_id, []))
        self._contexts.pop(event.session_id, None)
