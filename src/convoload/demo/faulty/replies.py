"""What the faulty target says when it is healthy, and the bodies of its callbacks."""

from __future__ import annotations

from datetime import UTC, datetime
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


def callback_payload(
    *, client_identifier: str, channel_id: str, in_reply_to: str, text: str
) -> dict[str, Any]:
    """One reply in the shape of convoload's `widget` webhook preset (text, agent, messageId, final)."""
    return {
        "clientIdentifier": client_identifier,
        "channelId": channel_id,
        "messageId": str(uuid4()),
        "inReplyTo": in_reply_to,
        "text": text,
        "agent": AGENT,
        "final": True,
        "createdAt": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }


def forged_url(url: str, mode: str) -> str:
    """The callback URL an impostor would use: convoload's `/cb/{secret}/...` with a wrong secret,
    or a path no turn has."""
    parts = urlsplit(url)
    segments = parts.path.split("/")
    if mode == "path":
        path = parts.path.rstrip("/") + "/forged"
    else:
        # The segment after `cb` is the secret; without one, spoil the first segment instead.
        index = segments.index("cb") + 1 if "cb" in segments[:-1] else 1
        segments[index] = "forged-" + uuid4().hex[:12]
        path = "/".join(segments)
    return urlunsplit(parts._replace(path=path))
