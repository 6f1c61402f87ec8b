"""A bundled target that breaks on purpose: real HTTP on loopback, faults chosen per turn.

It answers like a small agent — questions until turn ``goal_turn`` (3), then a payment link
(``https://pay.example.com/pix/faulty-NNNNN``), which convoload's default goal detects — except on the
turns a fault plan selects. Every run against it has healthy and faulty conversations side by side.

Command line: ``python -m convoload_demo.faulty --host 127.0.0.1 --port 0 [--goal-turn N]
[--reply-delay S] [--seed N] [--callback-timeout S] [--fault SPEC ...] [--sign SPEC]``; it prints one
``READY http://HOST:PORT`` line once it accepts connections. In Python::

    with FaultyServer(FaultyServerSettings(faults=(Fault(kind="status", every=2, turn=2),))) as target:
        ...  # target.chat_url, target.widget_url, target.set_faults([...]), target.flush()

Endpoints
---------
``POST /v1/chat`` ``{session_id, message}`` (``text`` is accepted too)
    Synchronous: ``{reply, agent}``.
``POST /v1/webhooks/widget`` ``{text, channelId, clientIdentifier, webhook}`` (convoload's ``widget``
preset)
    202 ``{status: "queued", messageId}``, then one POST to ``webhook`` with ``{clientIdentifier,
    channelId, messageId, inReplyTo, text, agent, final: true, createdAt}``. Callbacks are sent once,
    never retried. With ``--sign`` (the fields of convoload's ``target.receiver.signature``, as JSON or
    ``key=value,...``; the secret read from the environment variable ``secret_env`` names) each one is
    signed the way convoload's receiver checks it. Logs show callback URLs with the token masked.
``GET /health``
``POST /admin/faults`` ``{"faults": [...]}``
    Replace the plan (422 when invalid) and start afresh: conversation numbers, turn counts,
    injections and callback tallies restart; callbacks still owed are dropped.
``GET /admin/faults``
``GET /admin/stats``
    ``{requests: {chat, webhook}, conversations, injected: {kind: n}, injections: [{kind, api,
    session_id, conversation, turn}], callbacks: {status or "error": n}, callbacks_owed}``.
``POST /admin/flush``
    Send held (``late``) callbacks now, wait until every callback owed has been answered, then the
    stats. A test calls it after its run, before reading the receiver's counters.

Fault plan
----------
A list of faults; each turn (one request of one conversation; conversations are numbered in the order
they first reached the server) gets the first fault that applies to its API, selects it and is not
used up. Selectors, all optional and combined: ``every`` N-th conversation, ``conversations`` (a list
of numbers), ``turn`` K of a conversation, ``rate`` (a probability per turn, seeded by ``--seed``, the
session and the turn), ``times`` (at most that many injections), ``api`` (``chat`` | ``webhook``).
Kinds:

- ``status``: answer ``status`` (500). On the webhook API the acknowledgement fails.
- ``stall``: hold the request until the client disconnects or ``seconds`` (30) pass.
- ``drop``: promise a body, send a few bytes and close the connection.
- ``malformed``: a body that is not JSON (the reply, or the callback).
- ``empty``: an empty reply text (the reply, or the callback's ``text``).
- ``oversized``: the reply text padded by ``size_bytes`` (5 MiB: over convoload's 4 MiB reply limit
  and its receiver's 256 KiB callback limit).
- webhook only: ``no_callback``; ``duplicate`` (the same callback ``copies`` (2) times, one after
  the other); ``late`` (the callback is held ``seconds`` (30), or until ``/admin/flush``);
  ``forged`` (a callback with a distinct text, ``FORGED_TEXT``, to this turn's callback URL with a
  wrong token — ``mode: "secret"``, the segment after ``/cb/`` —, to a wrong path — ``mode: "path"``
  —, to this turn's path with the token of another conversation's URL, as one leaked from a log —
  ``mode: "stolen"`` —, or to this conversation's previous callback URL — ``mode: "replay"``; the
  genuine callback is withheld unless ``withhold: false``). convoload answers them 403, 404, 403
  and 410 (``forged``, ``unknown``, ``forged``, ``late``).
- ``split``: the reply cut into ``parts`` (2) messages the way messenger-style agents cut long text,
  inside its link when it has one (``...PIX: http`` + ``s://pay.example.com/...``): on the webhook API
  one callback per piece, in order, ``final: false`` on all but the last; on the chat API ``reply`` is
  the list of pieces. Not a failure: the goal must still be reached in that turn.

On the command line a fault is JSON or ``kind,key=value,...``: ``--fault status,every=3,turn=2,status=503``.
Connection refused needs no server: use a port where nothing listens.
"""

from convoload_demo.faulty.launcher import FaultyServer
from convoload_demo.faulty.plan import Fault, FaultPlan, parse_fault
from convoload_demo.faulty.settings import FaultyServerSettings

__all__ = ["Fault", "FaultPlan", "FaultyServer", "FaultyServerSettings", "parse_fault"]
