"""What every emulated messaging platform shares: conversations keyed by the user's platform address,
turns woken by the bot's API calls, gathering of several messages per turn, taps on buttons, faults.

convoload plays the platform for a bot under test: it delivers each simulated user's message the
platform's way (`Platform.send_inbound`: a signed webhook, an update for long polling), and serves the
REST API the bot answers through (`Platform.handle_api`, on a `PlatformServer`). The bot's call names a
recipient (a WhatsApp wa_id, a Telegram chat id); `PlatformHub.deliver` hands the message to that
conversation's waiting turn and wakes its greenlet through a gevent Event (no polling).

A turn waits for the first message (or a fault) up to the reply timeout, then gathers further messages
until none came for the quiet period: a bot answers with several messages, and the phone shows them all.
"""

from __future__ import annotations

import re
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from gevent.event import Event

from convoload.model import ErrorKind
from convoload.targets.base import Session, TargetError, TargetReply

DEFAULT_QUIET_PERIOD_S = 0.5  # gather a turn's messages until the bot was quiet this long
_FINISHED_MEMORY = 100_000  # finished addresses remembered to tell a late message from an unknown recipient
_SAMPLES = 200_000  # per figure: enough for every turn of a benchmark, bounded for endless runs


@dataclass(frozen=True, slots=True)
class Choice:
    """A button or list row the phone shows; tapping it sends the platform's reply payload."""

    label: str
    id: str
    kind: str  # the platform's own name: "button", "list_row", "inline", "keyboard", ...
    source_id: str = ""  # the message that showed it (WhatsApp's reply context)
    description: str | None = None


@dataclass(slots=True)
class ShownMessage:
    """One message of the bot as a phone shows it: text with each choice's label on a line `[Label]`."""

    text: str
    kind: str
    message_id: str
    choices: tuple[Choice, ...] = ()
    at: float = field(default_factory=time.perf_counter)


@dataclass(frozen=True, slots=True)
class UserInput:
    """What the user does: types `text`, or taps `choice` (its label is then the text)."""

    text: str
    choice: Choice | None = None


@dataclass(frozen=True, slots=True)
class PlatformFault:
    code: str  # short snake name: invalid_token, bad_payload, unknown_recipient, text_too_long, throughput
    detail: str


class Delivery(StrEnum):
    TURN = "turn"  # into the recipient's waiting turn
    LATE = "late"  # a known recipient with no turn waiting: shown at the front of its next reply
    UNKNOWN = "unknown"  # no conversation has this address


@dataclass(slots=True)
class Turn:
    iteration: int
    started: float = field(default_factory=time.perf_counter)
    messages: list[ShownMessage] = field(default_factory=list)
    faults: list[PlatformFault] = field(default_factory=list)
    changed: Event = field(default_factory=Event)
    typing_at: float | None = None  # the bot's first typing indicator of the turn


@dataclass(slots=True)
class PlatformConversation:
    session: Session
    address: str
    turn: Turn | None = None
    choices: tuple[Choice, ...] = ()  # what the latest reply with choices offered to tap
    backlog: list[ShownMessage] = field(default_factory=list)  # late messages, shown with the next reply
    state: Any = None  # the platform's own per-conversation state (its own dataclass)


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """One call of the bot to the emulated platform's API."""

    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass(frozen=True, slots=True)
class ApiResponse:
    status: int
    body: bytes
    content_type: str = "application/json"


class Platform(Protocol):
    """One emulated platform. `PlatformTarget` drives it; `PlatformServer` routes the bot's calls to it."""

    name: str

    def address(self, session: Session) -> str:
        """The user's address on the platform, which the bot's calls name (a wa_id, a chat id)."""
        ...

    def send_inbound(self, conversation: PlatformConversation, user: UserInput, turn: Turn) -> float:
        """Deliver the user's message (typed or tapped) the platform's way; returns the ack in ms."""
        ...

    def handle_api(self, request: ApiRequest) -> ApiResponse: ...

    def after_turn(self, conversation: PlatformConversation, turn: Turn) -> None:
        """The user has seen the turn's messages (WhatsApp sends `read` statuses)."""
        ...

    def start(self) -> None: ...

    def finish(self, conversation: PlatformConversation) -> None: ...

    def close(self) -> None: ...


_SPACES = re.compile(r"\s+")


def _normal(text: str) -> str:
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return _SPACES.sub(" ", text).strip().casefold()


def match_choice(text: str, choices: tuple[Choice, ...]) -> UserInput:
    """A tap when `text` is a shown label (trimmed, case-folded, spaces collapsed, `[...]` stripped);
    else typed text. The latest message's choices win when two messages offered the same label."""
    wanted = _normal(text)
    if wanted:
        for choice in reversed(choices):
            if _normal(choice.label) == wanted:
                return UserInput(choice.label, choice)
    return UserInput(text)


def choice_lines(choices: tuple[Choice, ...]) -> str:
    return "\n".join(f"[{c.label}]" for c in choices)


@dataclass(frozen=True, slots=True)
class Spread:
    count: int = 0
    mean: float = 0.0
    p50: float = 0.0
    p95: float = 0.0
    max: float = 0.0

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        if not values:
            return cls()
        ordered = sorted(values)
        n = len(ordered)
        return cls(
            n,
            sum(ordered) / n,
            ordered[min(n - 1, int(0.5 * n))],
            ordered[min(n - 1, int(0.95 * n))],
            ordered[-1],
        )


@dataclass(frozen=True, slots=True)
class PlatformFigures:
    """Per-turn figures of one run's platform: latency to the last and to the first message, messages per
    turn, typing time (typing indicator -> next message)."""

    latency_ms: Spread
    first_message_ms: Spread
    messages_per_turn: Spread
    typing_ms: Spread


class PlatformHub:
    """The conversations by address, and the counters of what the bot did to the platform."""

    def __init__(self) -> None:
        self.counters: Counter[str] = Counter()
        self._by_address: dict[str, PlatformConversation] = {}
        self._finished: OrderedDict[str, None] = OrderedDict()
        self._latency: list[float] = []
        self._first: list[float] = []
        self._per_turn: list[float] = []
        self._typing: list[float] = []

    # -- conversations ------------------------------------------------------------------------------
    def open(self, session: Session, address: str) -> PlatformConversation:
        found = self._by_address.get(address)
        if found is not None and found.session.session_id != session.session_id:
            raise TargetError(
                ErrorKind.INTERNAL, f"two conversations at once with the platform address {address}"
            )
        if found is None:
            found = self._by_address[address] = PlatformConversation(session, address)
            self._finished.pop(address, None)
        return found

    def close(self, conversation: PlatformConversation) -> None:
        if self._by_address.get(conversation.address) is conversation:
            del self._by_address[conversation.address]
        self._finished[conversation.address] = None
        if len(self._finished) > _FINISHED_MEMORY:
            self._finished.popitem(last=False)

    def find(self, address: str) -> PlatformConversation | None:
        return self._by_address.get(address)

    def known(self, address: str) -> bool:
        """A live conversation's address, or one of a finished conversation."""
        return address in self._by_address or address in self._finished

    # -- what the bot does --------------------------------------------------------------------------
    def deliver(self, address: str, message: ShownMessage) -> Delivery:
        conversation = self._by_address.get(address)
        if conversation is None:
            if address in self._finished:
                self.counters["platform_messages_late"] += 1
                return Delivery.LATE
            return Delivery.UNKNOWN
        turn = conversation.turn
        if turn is None:
            self.counters["platform_messages_late"] += 1
            conversation.backlog.append(message)
            return Delivery.LATE
        self.counters["platform_messages"] += 1
        turn.messages.append(message)
        turn.changed.set()
        return Delivery.TURN

    def typing(self, address: str) -> None:
        conversation = self._by_address.get(address)
        self.counters["platform_typing_indicators"] += 1
        if conversation is not None and conversation.turn is not None and conversation.turn.typing_at is None:
            conversation.turn.typing_at = time.perf_counter()

    def fault(self, address: str | None, code: str, detail: str) -> None:
        """A bad call of the bot: counted, and told to the recipient's waiting turn (which it wakes)."""
        self.counters[f"platform_fault_{code}"] += 1
        conversation = self._by_address.get(address) if address else None
        if conversation is not None and conversation.turn is not None:
            conversation.turn.faults.append(PlatformFault(code, detail))
            conversation.turn.changed.set()

    # -- figures ------------------------------------------------------------------------------------
    def record(self, turn: Turn) -> None:
        messages = turn.messages
        self.counters["platform_turns"] += 1
        if len(self._per_turn) >= _SAMPLES:
            return
        self._per_turn.append(float(len(messages)))
        if not messages:
            return
        first_ms = (messages[0].at - turn.started) * 1000
        self._first.append(first_ms)
        self._latency.append((messages[-1].at - turn.started) * 1000)
        self.counters["platform_first_message_ms_sum"] += round(first_ms)
        if turn.typing_at is not None:
            after = next((m.at for m in messages if m.at >= turn.typing_at), None)
            if after is not None:
                typing_ms = (after - turn.typing_at) * 1000
                self._typing.append(typing_ms)
                self.counters["platform_typing_turns"] += 1
                self.counters["platform_typing_ms_sum"] += round(typing_ms)

    def figures(self) -> PlatformFigures:
        return PlatformFigures(
            Spread.of(self._latency),
            Spread.of(self._first),
            Spread.of(self._per_turn),
            Spread.of(self._typing),
        )


class PlatformTarget:
    """A `Target` that plays `platform` for the bot: one send() is one user message and the bot's reply."""

    def __init__(
        self,
        platform: Platform,
        hub: PlatformHub,
        *,
        server: Any = None,
        reply_timeout_s: float = 30.0,
        quiet_period_s: float = DEFAULT_QUIET_PERIOD_S,
        taps: bool = True,
    ) -> None:
        self.kind = platform.name
        self.platform = platform
        self.hub = hub
        self.server = server  # a PlatformServer: stopped with the target
        self.reply_timeout_s = reply_timeout_s
        self.quiet_period_s = quiet_period_s or DEFAULT_QUIET_PERIOD_S
        self.taps = taps
        self._conversations: dict[str, PlatformConversation] = {}

    def send(self, session: Session, text: str, iteration: int) -> TargetReply:
        conversation = self._conversations.get(session.session_id)
        if conversation is None:
            address = self.platform.address(session)
            conversation = self._conversations[session.session_id] = self.hub.open(session, address)
        user = match_choice(text, conversation.choices) if self.taps else UserInput(text)
        turn = conversation.turn = Turn(iteration)
        backlog, conversation.backlog = conversation.backlog, []
        try:
            try:
                ack_ms = self.platform.send_inbound(conversation, user, turn)
            except TargetError:
                conversation.turn = None
                raise
            self.hub.counters["platform_inbound"] += 1
            if user.choice is not None:
                self.hub.counters["platform_taps"] += 1
            self._gather(turn, ack_ms)
        finally:
            conversation.turn = None
        self.hub.record(turn)
        messages = turn.messages
        offered = tuple(c for m in messages for c in m.choices)
        if offered:
            conversation.choices = offered
        self.platform.after_turn(conversation, turn)
        shown = [m.text for m in (*backlog, *messages)]
        return TargetReply(
            text="\n\n".join(shown),
            messages=shown,
            latency_ms=(messages[-1].at - turn.started) * 1000,
            ack_ms=ack_ms,
            raw=[
                {"id": m.message_id, "kind": m.kind, "text": m.text, "choices": [c.label for c in m.choices]}
                for m in messages
            ],
        )

    def _gather(self, turn: Turn, ack_ms: float) -> None:
        deadline = turn.started + self.reply_timeout_s
        changed = turn.changed
        while not turn.messages and not turn.faults:
            changed.clear()
            if turn.messages or turn.faults:
                break
            if not changed.wait(max(0.0, deadline - time.perf_counter())):
                raise TargetError(
                    ErrorKind.WEBHOOK_TIMEOUT,
                    f"no message from the bot within {self.reply_timeout_s:g} s",
                    ack_ms=ack_ms,
                )
        # Gathering: more messages may follow, until the bot is quiet (or the turn's time is up).
        while True:
            changed.clear()
            remaining = deadline - time.perf_counter()
            if remaining <= 0 or not changed.wait(min(self.quiet_period_s, remaining)):
                break
        if not turn.messages:
            fault = turn.faults[-1]
            codes = ", ".join(sorted({f.code for f in turn.faults}))
            raise TargetError(
                ErrorKind.PLATFORM,
                f"the platform refused the bot's {len(turn.faults)} call(s) ({codes}): {fault.detail}",
                ack_ms=ack_ms,
            )

    def stats(self) -> dict[str, int]:
        counters = dict(self.hub.counters)
        server_counters = getattr(self.server, "counters", None) or {}
        for key, value in server_counters.items():  # the API server's own: slow clients, overload
            counters[f"platform_server_{key}"] = value
        return dict(sorted(counters.items()))

    def figures(self) -> PlatformFigures:
        return self.hub.figures()

    def finish(self, session: Session) -> None:
        conversation = self._conversations.pop(session.session_id, None)
        if conversation is not None:
            self.hub.close(conversation)
            self.platform.finish(conversation)

    def close(self) -> None:
        self.platform.close()
        if self.server is not None:
            self.server.stop()
