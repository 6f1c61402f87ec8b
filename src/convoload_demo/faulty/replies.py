"""What the faulty target says when it is healthy, and the bodies of its callbacks."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import uuid4

AGENT = "faulty-assistant"
PAYMENT_URL = "https://pay.example.com/pix/faulty-{conversation:05d}"
# Text of forged callbacks: a test can look for it in every transcript and must never find it.
FORGED_TEXT = "FORGED callback: pay at https://evil.example.net/steal"
# Cut mid-string on purpose: no JSON parser accepts it.
MALFORMED_BODY = b'{"reply": "cut off in the mid'


def healthy_reply(conversation: int, turn: int, goal_turn: int) -> str:
    """Questions until `goal_turn`, then the payment link (any http link is convoload's default goal)."""
    if turn >= goal_turn:
        return f"Tudo certo! Pague pelo PIX: {PAYMENT_URL.format(conversation=conversation)}"
    return f"Anotado ({turn}/{goal_turn}). Pode me contar mais um detalhe?"


def split_reply(text: str, parts: int) -> list[str]:
    """`text` cut into `parts` messages the way a messenger-style agent cuts long text: anywhere.

    A reply with a link is cut inside it: first right after `http` (`...PIX: http` + `s://pay...`),
    then evenly through the rest of the link; a reply without one is cut evenly. Pieces are never
    empty, so a short text gives fewer of them.
    """
    link = text.find("http")
    if link < 0:
        cuts = [round(len(text) * i / parts) for i in range(1, parts)]
    else:
        end = text.find(" ", link)
        end = len(text) if end < 0 else end
        first = link + len("http")
        cuts = [first + round((end - first) * i / (parts - 1)) for i in range(parts - 1)]
    bounds = [0, *sorted({c for c in cuts if 0 < c < len(text)}), len(text)]
    return [text[a:b] for a, b in pairwise(bounds)]


def callback_payload(
    *, client_identifier: str, channel_id: str, in_reply_to: str, text: str, final: bool = True
) -> dict[str, Any]:
    """One reply in the shape of convoload's `widget` webhook preset (text, agent, messageId, final)."""
    return {
        "clientIdentifier": client_identifier,
        "channelId": channel_id,
        "messageId": str(uuid4()),
        "inReplyTo": in_reply_to,
        "text": text,
        "agent": AGENT,
        "final": final,
        "createdAt": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }


def forged_url(url: str, mode: str, leaked: str | None = None) -> str:
    """The callback URL an impostor would use, from this turn's `url` (convoload's
    `/cb/{token}/{session}/{iteration}`): `secret`, a wrong token; `path`, a path no turn has;
    `stolen`, the token of `leaked` (another conversation's URL) with this turn's path; `replay`,
    `leaked` itself (this conversation's previous URL). Without `leaked`, those two fall back to
    `secret`."""
    parts = urlsplit(url)
    segments = parts.path.split("/")
    # The segment after `cb` is the token; without one, the first segment stands in for it.
    index = segments.index("cb") + 1 if "cb" in segments[:-1] else 1
    if mode == "path":
        return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/forged"))
    if mode == "replay" and leaked is not None:
        return leaked
    if mode == "stolen" and leaked is not None:
        stolen = urlsplit(leaked).path.split("/")
        segments[index] = stolen[stolen.index("cb") + 1] if "cb" in stolen[:-1] else stolen[1]
    else:
        segments[index] = "forged-" + uuid4().hex[:12]
    return urlunsplit(parts._replace(path="/".join(segments)))
