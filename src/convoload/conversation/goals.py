"""Goal detectors: has the agent's reply reached what the customer came for?

A reply may come as several messages (callbacks of a webhook agent, a list from a chat API), and
messenger-style agents cut long text wherever a message ends: inside a word, or inside the very link
the customer came for (`...via PIX: http` + `s://pay.example/...`). So a detector reads the turn in
several views, in this order, and the goal is reached when any of them matches:

1. the messages joined with a blank line (the reply text as recorded);
2. each message alone (patterns anchored with ^ or $, python functions written for one message);
3. the messages joined with nothing in between (a cut inside a word or a link put back:
   `visita agen` + `dada`).

Link goals first read the messages *mended*: joined with a blank line, except where a message ends
inside a link and the next one carries on with the rest of it (an unfinished scheme such as `http`,
or a piece of address such as `mple.com/pix/1` or `00042`, not a word such as `Obrigado!`). The
link reported as evidence is then the whole link, never `https://pay.exa` nor a link with the next
message's first word glued to it.

Python goal functions keep their signature, `function(reply_text) -> bool`, and are called with
each view in the same order until one returns a true value; a string returned is the evidence.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from convoload.textutil import URL_RE

_EVIDENCE_CHARS = 200
_TRAILING_PUNCTUATION = ".,;:!?"
# What may carry on a link cut at a message's end: the URL characters links are made of (ASCII), maybe
# ending a sentence ...
_CONTINUATION_RE = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@&+=%]+[.,;:!?]*")
# ... unless it reads as a word or a list number starting the next message ("Obrigado!", "2.").
_NEW_START_RE = re.compile(r"[A-Za-z]+[.,;:!?]*|\d{1,2}[.)]")


@dataclass(frozen=True, slots=True)
class GoalHit:
    """The goal was reached; `evidence` is what showed it (the link, the text matched), when known."""

    evidence: str | None = None


class GoalDetector(Protocol):
    description: str

    def __call__(self, messages: Sequence[str] | str) -> GoalHit | None:
        """The turn's reply messages (a string is one message); a hit, or None."""
        ...


def reply_views(messages: Sequence[str]) -> list[str]:
    """The reply as detectors read it: joined with a blank line, each message alone, joined as is."""
    if len(messages) == 1:
        return [messages[0]]
    return list(dict.fromkeys(["\n\n".join(messages), *messages, "".join(messages)]))


def mend(messages: Sequence[str]) -> str:
    """The messages joined with a blank line, except where one ends inside a link the next carries on."""
    text = messages[0]
    for message in messages[1:]:
        text += ("" if _cut_inside_link(text, message) else "\n\n") + message
    return text


def _cut_inside_link(before: str, after: str) -> bool:
    if not before or not after or before[-1].isspace() or after[0].isspace():
        return False  # whitespace on either side of the cut: nothing was cut in two
    # Split from the ends: a regex for "the last token" would rescan a long reply at every position.
    tail_text, head_text = before.rsplit(None, 1)[-1], after.split(None, 1)[0]
    glued = tail_text + head_text
    spanning = next(
        (m for m in URL_RE.finditer(glued) if m.start() < len(tail_text) < m.end()),
        None,
    )
    if spanning is None:
        return False
    if URL_RE.search(tail_text, spanning.start()) is None:
        return True  # the scheme itself was cut (`http` + `s://...`): only the glued text is a link
    return bool(_CONTINUATION_RE.fullmatch(head_text)) and not _NEW_START_RE.fullmatch(head_text)


def _as_messages(messages: Sequence[str] | str) -> Sequence[str]:
    return (messages,) if isinstance(messages, str) else (messages or ("",))


def _clip(text: str) -> str:
    return text if len(text) <= _EVIDENCE_CHARS else text[: _EVIDENCE_CHARS - 1] + "…"


class LinkGoal:
    """The reply contains a link (default: any http/https URL), e.g. a payment link.

    With a pattern, the pattern is searched in the reply and the evidence is the link it falls in
    (or the text it matched, when that is not inside a link).
    """

    def __init__(self, pattern: str | None = None) -> None:
        self._re = re.compile(pattern, re.IGNORECASE) if pattern else URL_RE
        self.description = f"link matching {pattern}" if pattern else "any http(s) link"

    def __call__(self, messages: Sequence[str] | str) -> GoalHit | None:
        messages = _as_messages(messages)
        views = reply_views(messages)
        if len(messages) > 1:
            views = list(dict.fromkeys([mend(messages), *views]))
        for view in views:
            match = self._re.search(view)
            if match is not None:
                return GoalHit(_clip(self._link_around(view, match)))
        return None

    def _link_around(self, view: str, match: re.Match[str]) -> str:
        if self._re is not URL_RE:
            start, end = match.span()
            match = next((u for u in URL_RE.finditer(view) if u.start() < end and u.end() > start), match)
        return match.group(0).rstrip(_TRAILING_PUNCTUATION) or match.group(0)


class RegexGoal:
    def __init__(self, pattern: str) -> None:
        self._re = re.compile(pattern, re.IGNORECASE | re.DOTALL)
        self.description = f"reply matches /{pattern}/"

    def __call__(self, messages: Sequence[str] | str) -> GoalHit | None:
        for view in reply_views(_as_messages(messages)):
            match = self._re.search(view)
            if match is not None:
                return GoalHit(_clip(match.group(0)))
        return None


class CallableGoal:
    def __init__(self, function: Callable[[str], object], name: str) -> None:
        self._function = function
        self.description = f"{name}(reply)"

    def __call__(self, messages: Sequence[str] | str) -> GoalHit | None:
        for view in reply_views(_as_messages(messages)):
            result = self._function(view)
            if result:
                return GoalHit(_clip(result) if isinstance(result, str) else None)
        return None


def build_goal(kind: str, pattern: str | None = None, function: str | None = None) -> GoalDetector:
    """From the config's goal section; `function` is `module:function` taking the reply text."""
    if kind == "regex":
        return RegexGoal(pattern or "")
    if kind == "python":
        from convoload.plugins import import_callable

        return CallableGoal(import_callable(function or ""), function or "")
    return LinkGoal(pattern)
