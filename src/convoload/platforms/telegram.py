"""Telegram Bot API, played for a bot under test (`target.type: telegram`).

Every simulated customer is a Telegram user in a private chat with the bot: its user id (= chat id) is
derived from the synthetic identity, its first/last name and username from the identity's name, its
language_code from the persona's language. A message the user types reaches the bot as an Update with a
`message`; a tap on an inline keyboard button as an Update with a `callback_query` (id, from, message,
chat_instance, data); a tap on a reply keyboard button as the plain text message it is on a phone.

The bot gets its updates either way Telegram offers: long polling (`getUpdates`, served here; a waiting
call wakes as soon as an update is queued) or a webhook (`setWebhook` with its secret token, or target.url
set before the run as Telegram keeps it between deployments): each update is POSTed as JSON with
X-Telegram-Bot-Api-Secret-Token, on at most `max_connections` connections. While a webhook is set,
getUpdates answers Telegram's 409 conflict.

The bot answers through `/bot<token>/<method>` (JSON, form-encoded, multipart or query parameters, method
names case-insensitive): getMe, sendMessage (parse_mode, inline and reply keyboards, keyboard removal),
editMessageText / editMessageReplyMarkup (the phone shows the edited message again, marked "(edited)"),
answerCallbackQuery, sendChatAction (typing), the webhook methods. Answers use Telegram's envelope
(`ok`, `result` / `error_code`, `description`, `parameters.retry_after`); refused calls count as faults.
"""

from __future__ import annotations

import hashlib
import html
import math
import re
import secrets
import time
import unicodedata
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qs

import gevent
from gevent.event import Event
from gevent.queue import Queue
from pydantic_core import from_json, to_json

from convoload.platforms.base import (
    ApiRequest,
    ApiResponse,
    Choice,
    PlatformConversation,
    PlatformHub,
    ShownMessage,
    Turn,
    UserInput,
    choice_lines,
)
from convoload.platforms.limits import TokenBucket
from convoload.platforms.sender import InboundSender
from convoload.targets.base import Session, TargetError

MAX_TEXT_CHARS = 4096
MAX_CALLBACK_DATA_BYTES = 64
MAX_POLL_S = 50.0  # the longest long poll Telegram holds
DEFAULT_WEBHOOK_CONNECTIONS = 40
_REDELIVERY_PAUSES_S = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0)  # then the update is dropped
_PENDING_LIMIT = 100_000  # unconfirmed updates kept (Telegram keeps them for 24 hours)
_CALLBACK_MEMORY = 100_000
_USER_ID_SPACE = 2**52  # Telegram ids have at most 52 significant bits
_SCRAMBLE = 0x5DEECE66D  # odd: multiplying by it modulo 2**52 is a bijection (distinct phones, distinct ids)
_PATH = re.compile(r"^/bot([^/]*)/([A-Za-z]+)/?$")
_TOKEN = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{1,80}$")
_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_PARSE_MODES = {"html": "HTML", "markdown": "Markdown", "markdownv2": "MarkdownV2"}
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_UPDATE_TYPES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "message_reaction",
        "message_reaction_count",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)
# Settings calls a bot makes at start-up: accepted, nothing to show.
_ACCEPTED = frozenset(
    {
        "setmycommands",
        "deletemycommands",
        "setmydescription",
        "setmyshortdescription",
        "setmyname",
        "setchatmenubutton",
        "setmydefaultadministratorrights",
        "close",
        "logout",
    }
)
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_MD_ESCAPED = re.compile(r"\\(.)")
_MD_MARKS = re.compile(r"(?<!\\)[*_~`|]")
_TAGS = re.compile(r"<[^>]*>")


@dataclass(frozen=True, slots=True)
class TelegramSettings:
    token: str
    webhook_url: str | None = None  # a webhook set before the run (Telegram keeps it between deployments)
    secret_token: str | None = None
    bot_username: str = "convoload_test_bot"
    bot_first_name: str = "Convoload Test Bot"
    max_text_chars: int = MAX_TEXT_CHARS
    throughput_per_s: float | None = None
    languages: dict[str, str] = field(default_factory=dict)  # persona name -> pt-BR / en
    default_language: str = "pt-BR"
    timeout_s: float = 10.0  # a webhook POST
    connect_timeout_s: float = 5.0


class BotApiError(Exception):
    """A refused call: Telegram's error envelope, and the fault it counts as."""

    def __init__(self, status: int, description: str, fault: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.fault = fault
        self.retry_after = retry_after

    def document(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            answer["parameters"] = {"retry_after": self.retry_after}
        return answer


def _bad(description: str, fault: str = "bad_payload") -> BotApiError:
    return BotApiError(400, f"Bad Request: {description}", fault)


@dataclass(slots=True)
class _Sent:
    """A message of the bot as the chat keeps it: what editMessage* change and a callback_query carries."""

    document: dict[str, Any]
    shown: str
    choices: tuple[Choice, ...]


@dataclass(slots=True)
class _Chat:
    user: dict[str, Any]
    chat: dict[str, Any]
    next_message_id: int = 1  # one sequence per private chat, both sides' messages
    sent: dict[int, _Sent] = field(default_factory=dict)
    open_callback: str | None = None  # the tap of the current turn, until the bot answers it

    def message_id(self) -> int:
        value = self.next_message_id
        self.next_message_id += 1
        return value


@dataclass(slots=True)
class _Update:
    update_id: int
    kind: str
    body: dict[str, Any]
    chat_id: int


class _Webhook:
    """A set webhook: where updates go, with the secret header, on at most `max_connections` at once."""

    def __init__(
        self,
        url: str,
        secret: str | None,
        max_connections: int,
        allowed: frozenset[str] | None,
        sender: InboundSender,
    ) -> None:
        self.url = url
        self.secret = secret
        self.max_connections = max_connections
        self.allowed = allowed
        self.sender = sender
        self.slots: Queue = Queue()
        for i in range(max_connections):
            self.slots.put(f"webhook-{i}")
        self.last_error: tuple[int, str] | None = None

    def post(self, update: _Update) -> float:
        headers = {"Content-Type": "application/json"}  # exactly: python-telegram-bot refuses anything else
        if self.secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = self.secret
        body = to_json({"update_id": update.update_id, update.kind: update.body})
        slot = self.slots.get()  # Telegram waits for a free connection, then sends
        try:
            _, _, ack_ms = self.sender.post(slot, body, headers)
        except TargetError as exc:
            self.last_error = (int(time.time()), exc.message)
            raise
        finally:
            self.slots.put(slot)
        return ack_ms

    def close(self) -> None:
        self.sender.close()


def user_id_for(session: Session) -> int:
    """The user's (and private chat's) id: the same for the same identity, distinct for distinct ones."""
    digits = session.identity.phone_digits
    if digits.isdigit():
        return (int(digits) * _SCRAMBLE) % _USER_ID_SPACE or 1
    raw = hashlib.sha256(session.session_id.encode()).digest()
    return int.from_bytes(raw[:8], "big") % _USER_ID_SPACE or 1


def _slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in plain.lower() if c.isalnum())


class TelegramPlatform:
    name = "telegram"

    def __init__(self, settings: TelegramSettings, hub: PlatformHub, sender: InboundSender | None) -> None:
        self.settings = settings
        self.hub = hub
        self.bot_id = int(settings.token.split(":", 1)[0]) if _TOKEN.match(settings.token) else 0
        self.me = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": settings.bot_first_name,
            "username": settings.bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self._bucket = TokenBucket(settings.throughput_per_s) if settings.throughput_per_s else None
        self._pending: deque[_Update] = deque()
        self._arrived = Event()  # set when an update is queued: wakes the waiting getUpdates
        self._next_update_id = 700_000_000
        self._poll_generation = 0
        self._allowed: frozenset[str] | None = None  # getUpdates' allowed_updates, kept between calls
        self._callbacks: OrderedDict[str, int] = OrderedDict()  # open callback query id -> chat id
        self.webhook: _Webhook | None = None
        self.bot_seen = Event()  # the bot made its first authorised call
        self.polling = Event()  # a getUpdates call is waiting
        self._closed = False
        if settings.webhook_url:
            if sender is None:
                sender = self._sender(settings.webhook_url)
            self.webhook = _Webhook(
                settings.webhook_url, settings.secret_token, DEFAULT_WEBHOOK_CONNECTIONS, None, sender
            )

    def _sender(self, url: str) -> InboundSender:
        return InboundSender(
            url,
            timeout_s=self.settings.timeout_s,
            connect_timeout_s=self.settings.connect_timeout_s,
            counters=self.hub.counters,
        )

    # -- the user's side ----------------------------------------------------------------------------
    def address(self, session: Session) -> str:
        return str(user_id_for(session))

    def start(self) -> None:
        """Nothing to start: the bot comes to the server (getUpdates) or has set its webhook."""

    def _chat(self, conversation: PlatformConversation) -> _Chat:
        state = conversation.state
        if isinstance(state, _Chat):
            return state
        identity = conversation.session.identity
        uid = int(conversation.address)
        language = self.settings.languages.get(conversation.session.persona, self.settings.default_language)
        surname = _slug((identity.last_name.split() or [""])[-1])
        username = f"{_slug(identity.first_name) or 'user'}_{surname}{uid % 10_000}"
        user = {
            "id": uid,
            "is_bot": False,
            "first_name": identity.first_name,
            "last_name": identity.last_name,
            "username": username[:32],
            "language_code": language.lower(),
        }
        chat = {
            "id": uid,
            "first_name": identity.first_name,
            "last_name": identity.last_name,
            "username": username[:32],
            "type": "private",
        }
        state = conversation.state = _Chat(user, chat)
        return state

    def send_inbound(self, conversation: PlatformConversation, user: UserInput, turn: Turn) -> float:
        chat = self._chat(conversation)
        choice = user.choice
        if choice is not None and choice.kind == "inline":
            update = self._callback_query(chat, choice)
        else:  # typed text, or a reply keyboard button: the phone sends its label as a message
            message: dict[str, Any] = {
                "message_id": chat.message_id(),
                "from": chat.user,
                "chat": chat.chat,
                "date": int(time.time()),
                "text": user.text,
            }
            if user.text.startswith("/"):
                command = user.text.split(maxsplit=1)[0]
                message["entities"] = [{"offset": 0, "length": len(command), "type": "bot_command"}]
            update = self._update("message", message, chat.chat["id"])
        webhook = self.webhook
        if webhook is not None:
            if webhook.allowed is not None and update.kind not in webhook.allowed:
                self.hub.counters["platform_updates_filtered"] += 1
                return 0.0
            return webhook.post(update)
        self._queue(update)
        return 0.0

    def _callback_query(self, chat: _Chat, choice: Choice) -> _Update:
        query_id = str(secrets.randbits(63))
        body: dict[str, Any] = {
            "id": query_id,
            "from": chat.user,
            "chat_instance": str(-(chat.chat["id"] * 31 + self.bot_id) % 2**63),
            "data": choice.id,
        }
        sent = chat.sent.get(int(choice.source_id)) if choice.source_id.isdigit() else None
        if sent is not None:
            body["message"] = sent.document
        chat.open_callback = query_id
        self._callbacks[query_id] = chat.chat["id"]
        if len(self._callbacks) > _CALLBACK_MEMORY:
            self._callbacks.popitem(last=False)
        return self._update("callback_query", body, chat.chat["id"])

    def _update(self, kind: str, body: dict[str, Any], chat_id: int) -> _Update:
        self._next_update_id += 1
        return _Update(self._next_update_id, kind, body, chat_id)

    def _queue(self, update: _Update) -> None:
        if self._allowed is not None and update.kind not in self._allowed:
            self.hub.counters["platform_updates_filtered"] += 1
            return
        self._pending.append(update)
        if len(self._pending) > _PENDING_LIMIT:
            self._pending.popleft()
            self.hub.counters["platform_updates_dropped"] += 1
        self._arrived.set()

    def after_turn(self, conversation: PlatformConversation, turn: Turn) -> None:
        chat = conversation.state
        if isinstance(chat, _Chat) and chat.open_callback is not None:
            # The phone still shows the button's progress indicator: the bot never answered the tap.
            self.hub.counters["platform_callbacks_unanswered"] += 1
            chat.open_callback = None

    def finish(self, conversation: PlatformConversation) -> None:
        """Nothing to release: webhook connections are the platform's few, not one per conversation."""

    def close(self) -> None:
        if self.webhook is not None:
            self.webhook.close()
            self.webhook = None  # a redelivery still pending stops
        self._closed = True
        self._arrived.set()  # a waiting getUpdates returns

    # -- the bot's side: the Bot API ----------------------------------------------------------------
    def handle_api(self, request: ApiRequest) -> ApiResponse:
        chat_id: str | None = None
        try:
            found = _PATH.match(request.path)
            if found is None or not _TOKEN.match(found.group(1)):
                raise BotApiError(404, "Not Found", "invalid_token")  # what api.telegram.org answers
            params, unreadable = self._params(request)
            # Known before the token is checked: a refused call is told to the chat's waiting turn.
            chat_id = _chat_key(params.get("chat_id"))
            if not secrets.compare_digest(found.group(1).encode(), self.settings.token.encode()):
                raise BotApiError(401, "Unauthorized", "invalid_token")
            self.bot_seen.set()
            if unreadable:
                raise _bad("can't parse request parameters")
            result, description = self._call(found.group(2).lower(), params)
        except BotApiError as exc:
            self.hub.fault(chat_id, exc.fault, exc.description)
            return ApiResponse(exc.status, to_json(exc.document()))
        answer: dict[str, Any] = {"ok": True, "result": result}
        if description:
            answer["description"] = description
        return ApiResponse(200, to_json(answer))

    @staticmethod
    def _params(request: ApiRequest) -> tuple[dict[str, Any], bool]:
        """The call's parameters (query string and body: JSON, form or multipart); True when unreadable."""
        params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(request.query).items()}
        content_type = request.headers.get("content-type", "").lower()
        body = request.body
        try:
            if not body.strip():
                pass
            elif content_type.startswith("application/json"):
                document = from_json(body)
                if not isinstance(document, dict):
                    raise ValueError("not an object")
                params.update(document)
            elif content_type.startswith("application/x-www-form-urlencoded"):
                params.update({k: v[-1] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()})
            elif content_type.startswith("multipart/form-data"):
                params.update(_multipart(request.headers["content-type"], body))
            else:
                raise ValueError("unsupported content type")
        except (ValueError, UnicodeDecodeError):
            return params, True
        return params, False

    def _call(self, method: str, params: dict[str, Any]) -> tuple[Any, str | None]:
        if method == "getme":
            return self.me, None
        if method == "getupdates":
            return self._get_updates(params), None
        if method == "sendmessage":
            return self._send_message(params), None
        if method == "editmessagetext":
            return self._edit(params, text=True), None
        if method == "editmessagereplymarkup":
            return self._edit(params, text=False), None
        if method == "answercallbackquery":
            return self._answer_callback(params), None
        if method == "sendchataction":
            return self._chat_action(params), None
        if method == "setwebhook":
            return self._set_webhook(params)
        if method == "deletewebhook":
            return self._delete_webhook(params)
        if method == "getwebhookinfo":
            return self._webhook_info(), None
        if method in _ACCEPTED:
            return True, None
        raise BotApiError(404, "Not Found", "unknown_method")

    # -- updates ------------------------------------------------------------------------------------
    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook is not None:
            raise BotApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
                "webhook_conflict",
            )
        offset = _int(params, "offset", 0)
        limit = _int(params, "limit", 100)
        timeout = _float(params, "timeout", 0.0)
        if "allowed_updates" in params:
            self._allowed = _allowed(params["allowed_updates"])
        limit = min(max(limit, 1), 100)
        if offset < 0:  # the last -offset updates; the ones before are forgotten
            while len(self._pending) > -offset:
                self._pending.popleft()
        elif offset:
            while self._pending and self._pending[0].update_id < offset:
                self._pending.popleft()
        self._poll_generation += 1
        generation = self._poll_generation
        deadline = time.monotonic() + min(max(timeout, 0.0), MAX_POLL_S)
        while not self._pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._arrived.clear()
            self.polling.set()
            self._arrived.wait(remaining)
            if generation != self._poll_generation:
                raise BotApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                    "poll_conflict",
                )
            if self.webhook is not None or self._closed:
                return []
        taken = [u for _, u in zip(range(limit), self._pending, strict=False)]
        return [{"update_id": u.update_id, u.kind: u.body} for u in taken]

    def _set_webhook(self, params: dict[str, Any]) -> tuple[bool, str]:
        url = params.get("url")
        if not isinstance(url, str):
            raise _bad("bad webhook: URL must be provided")
        if not url:
            return self._delete_webhook(params)
        if not url.startswith(("http://", "https://")):
            raise _bad("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
        secret = params.get("secret_token")
        if secret is not None and (not isinstance(secret, str) or not _SECRET.match(secret)):
            raise _bad("secret token contains unallowed characters")
        connections = _int(params, "max_connections", DEFAULT_WEBHOOK_CONNECTIONS)
        if not 1 <= connections <= 100:
            connections = DEFAULT_WEBHOOK_CONNECTIONS
        allowed = _allowed(params["allowed_updates"]) if "allowed_updates" in params else None
        try:
            sender = self._sender(url)
        except ValueError:
            raise _bad("bad webhook: Failed to resolve host: Name or service not known") from None
        previous = self.webhook
        self.webhook = _Webhook(url, secret or None, connections, allowed, sender)
        if previous is not None:
            previous.close()
        self._arrived.set()  # a waiting getUpdates returns
        if _bool(params, "drop_pending_updates"):
            self._pending.clear()
        elif self._pending:
            # Updates queued before the webhook go to it, in order, as Telegram delivers them.
            waiting, self._pending = list(self._pending), deque()
            gevent.spawn(self._deliver_queued, self.webhook, waiting)
        return True, "Webhook was set"

    def _deliver_queued(self, webhook: _Webhook, updates: list[_Update]) -> None:
        for update in updates:
            # Telegram retries a failed delivery (a bot sets its webhook before its server listens, as
            # python-telegram-bot does), backing off, until the webhook is replaced or it gives up.
            for pause in (*_REDELIVERY_PAUSES_S, None):
                if self.webhook is not webhook:
                    return
                try:
                    webhook.post(update)
                    break
                except TargetError:
                    if pause is None:
                        self.hub.counters["platform_webhook_failed"] += 1
                    else:
                        self.hub.counters["platform_webhook_retries"] += 1
                        gevent.sleep(pause)

    def _delete_webhook(self, params: dict[str, Any]) -> tuple[bool, str]:
        if _bool(params, "drop_pending_updates"):
            self._pending.clear()
        if self.webhook is None:
            return True, "Webhook is already deleted"
        self.webhook.close()
        self.webhook = None
        return True, "Webhook was deleted"

    def _webhook_info(self) -> dict[str, Any]:
        webhook = self.webhook
        info: dict[str, Any] = {
            "url": webhook.url if webhook is not None else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if webhook is not None:
            info["max_connections"] = webhook.max_connections
            if webhook.allowed is not None:
                info["allowed_updates"] = sorted(webhook.allowed)
            if webhook.last_error is not None:
                info["last_error_date"], info["last_error_message"] = webhook.last_error
        return info

    # -- messages -----------------------------------------------------------------------------------
    def _recipient(self, params: dict[str, Any]) -> tuple[str, _Chat | None]:
        """The chat the call names, and its state when a conversation is live (None: finished)."""
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise _bad("chat_id is empty")
        key = _chat_key(raw)
        if key is None or not self.hub.known(key):
            raise _bad("chat not found", "unknown_recipient")
        conversation = self.hub.find(key)
        return key, (self._chat(conversation) if conversation is not None else None)

    def _throttle(self) -> None:
        if self._bucket is not None and not self._bucket.take():
            wait = max(1, math.ceil(1.0 / self._bucket.rate))
            raise BotApiError(429, f"Too Many Requests: retry after {wait}", "throughput", retry_after=wait)

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        key, chat = self._recipient(params)
        text = self._text(params)
        markup, choices, remove = self._markup(params.get("reply_markup"))
        self._throttle()
        message_id = chat.message_id() if chat is not None else 0
        document: dict[str, Any] = {
            "message_id": message_id,
            "from": self.me,
            "chat": chat.chat if chat is not None else {"id": int(key), "type": "private"},
            "date": int(time.time()),
            "text": text,
        }
        if markup is not None and "inline_keyboard" in markup:
            document["reply_markup"] = markup  # a reply keyboard is not part of the message
        choices = tuple(
            Choice(c.label, c.id, c.kind, str(message_id), c.description) if c.kind == "inline" else c
            for c in choices
        )
        shown = self._shown(text, params)
        if chat is not None:
            chat.sent[message_id] = _Sent(document, shown, choices)
            if remove:
                conversation = self.hub.find(key)
                if conversation is not None:
                    conversation.choices = tuple(c for c in conversation.choices if c.kind != "keyboard")
        self._show(key, shown, choices, "text", message_id)
        return document

    def _edit(self, params: dict[str, Any], *, text: bool) -> dict[str, Any] | bool:
        if params.get("inline_message_id"):
            raise _bad("message to edit not found")  # no inline mode here: no inline messages exist
        key, chat = self._recipient(params)
        message_id = _int(params, "message_id", 0)
        sent = chat.sent.get(message_id) if chat is not None else None
        if sent is None:
            raise _bad("message to edit not found")
        new_text = self._text(params) if text else sent.document["text"]
        markup, choices, _ = self._markup(params.get("reply_markup"))
        if markup is not None and "inline_keyboard" not in markup:
            raise _bad("inline keyboard expected")
        shown = self._shown(new_text, params) if text else sent.shown
        if new_text == sent.document["text"] and markup == sent.document.get("reply_markup"):
            raise _bad(
                "message is not modified: specified new message content and reply markup are exactly "
                "the same as a current content and reply markup of the message"
            )
        self._throttle()
        document = {**sent.document, "text": new_text, "edit_date": int(time.time())}
        document.pop("reply_markup", None)
        if markup is not None:
            document["reply_markup"] = markup
        choices = tuple(Choice(c.label, c.id, c.kind, str(message_id), c.description) for c in choices)
        assert chat is not None
        chat.sent[message_id] = _Sent(document, shown, choices)
        conversation = self.hub.find(key)
        if conversation is not None:  # the old buttons are gone from the phone
            conversation.choices = tuple(c for c in conversation.choices if c.source_id != str(message_id))
        self.hub.counters["platform_messages_edited"] += 1
        if text or choices:
            self._show(key, f"(edited) {shown}", choices, "edited", message_id)
        return document

    def _show(self, key: str, shown: str, choices: tuple[Choice, ...], kind: str, message_id: int) -> None:
        lines = choice_lines(choices)
        self.hub.deliver(
            key, ShownMessage(f"{shown}\n{lines}" if lines else shown, kind, str(message_id), choices)
        )

    def _answer_callback(self, params: dict[str, Any]) -> bool:
        query_id = params.get("callback_query_id")
        chat_id = self._callbacks.pop(str(query_id), None) if query_id is not None else None
        if chat_id is None:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        self.hub.counters["platform_callbacks_answered"] += 1
        conversation = self.hub.find(str(chat_id))
        if conversation is not None and isinstance(conversation.state, _Chat):
            conversation.state.open_callback = None
        text = params.get("text")
        if isinstance(text, str) and text:
            if len(text) > 200:
                raise _bad("MESSAGE_TOO_LONG", "text_too_long")
            kind = "alert" if _bool(params, "show_alert") else "notification"
            self.hub.deliver(str(chat_id), ShownMessage(f"({kind}) {text}", kind, str(query_id)))
        return True

    def _chat_action(self, params: dict[str, Any]) -> bool:
        key, _ = self._recipient(params)
        action = params.get("action")
        if action not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        if action == "typing":
            self.hub.typing(key)
        return True

    def _text(self, params: dict[str, Any]) -> str:
        text = params.get("text")
        if isinstance(text, int | float) and not isinstance(text, bool):
            text = str(text)
        if not isinstance(text, str) or not text.strip():
            raise _bad("message text is empty")
        mode = params.get("parse_mode")
        if mode not in (None, "") and (not isinstance(mode, str) or mode.lower() not in _PARSE_MODES):
            raise _bad("unsupported parse_mode")
        # Telegram counts the text as shown (markup removed), in UTF-16 code units.
        if len(self._shown(text, params).encode("utf-16-le")) // 2 > self.settings.max_text_chars:
            raise _bad("message is too long", "text_too_long")
        return text

    @staticmethod
    def _shown(text: str, params: dict[str, Any]) -> str:
        """The text as the phone renders it: formatting marks gone."""
        mode = str(params.get("parse_mode") or "").lower()
        if mode == "html":
            return html.unescape(_TAGS.sub("", text))
        if mode in ("markdown", "markdownv2"):
            text = _MD_LINK.sub(r"\1", text)
            return _MD_ESCAPED.sub(r"\1", _MD_MARKS.sub("", text))
        return text

    def _markup(self, raw: Any) -> tuple[dict[str, Any] | None, tuple[Choice, ...], bool]:
        """The reply_markup as sent back, the choices it shows, and whether it removes the keyboard."""
        if raw is None or raw == "":
            return None, (), False
        markup = raw
        if isinstance(raw, str):
            try:
                markup = from_json(raw)
            except ValueError:
                markup = None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            return markup, self._inline(markup["inline_keyboard"]), False
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _bad("can't parse reply keyboard markup JSON object")
            choices = []
            for button in (b for row in rows for b in row):
                label = button.get("text") if isinstance(button, dict) else button
                if not isinstance(label, str) or not label:
                    raise _bad('can\'t parse keyboard button: Field "text" must be of type String')
                choices.append(Choice(label, label, "keyboard"))
            return markup, tuple(choices), False
        if markup.get("remove_keyboard") is True:
            return markup, (), True
        if markup.get("force_reply") is True:
            return markup, (), False
        raise _bad("can't parse reply keyboard markup JSON object")

    @staticmethod
    def _inline(rows: Any) -> tuple[Choice, ...]:
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise _bad("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
        choices = []
        for button in (b for row in rows for b in row):
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise _bad('can\'t parse inline keyboard button: Field "text" must be of type String')
            label = button["text"]
            if "callback_data" in button:
                data = button["callback_data"]
                if not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES:
                    raise _bad("BUTTON_DATA_INVALID")
                choices.append(Choice(label, data, "inline"))
            elif isinstance(button.get("url"), str):
                # A link button opens the browser: shown with its address, nothing to send back.
                choices.append(Choice(f"{label}: {button['url']}", button["url"], "url"))
            elif not any(k in button for k in ("web_app", "login_url", "switch_inline_query", "pay")):
                raise _bad(
                    "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
                )
        return tuple(choices)


def _chat_key(raw: Any) -> str | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return str(raw)
    if isinstance(raw, str) and re.fullmatch(r"-?\d{1,20}", raw.strip()):
        return str(int(raw))
    return None


def _int(params: dict[str, Any], name: str, default: int) -> int:
    value = params.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise _bad(f'field "{name}" must be of type Integer')
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _bad(f'field "{name}" must be of type Integer') from None


def _float(params: dict[str, Any], name: str, default: float) -> float:
    value = params.get(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _bad(f'field "{name}" must be of type Number') from None


def _bool(params: dict[str, Any], name: str) -> bool:
    value = params.get(name)
    if isinstance(value, str):
        return value.lower() in ("true", "1")
    return bool(value)


def _allowed(raw: Any) -> frozenset[str] | None:
    """allowed_updates: a list (or its JSON); empty means every type but the few Telegram excludes."""
    value = raw
    if isinstance(raw, str):
        try:
            value = from_json(raw) if raw.strip() else []
        except ValueError:
            raise _bad("can't parse allowed updates JSON object") from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad("can't parse allowed updates JSON object")
    return frozenset(value) & _UPDATE_TYPES or None


def _multipart(content_type: str, body: bytes) -> dict[str, str]:
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        raise ValueError("not multipart")
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str) and part.get_filename() is None:
            payload = part.get_payload(decode=True) or b""
            fields[name] = payload.decode(part.get_content_charset() or "utf-8")
    return fields
