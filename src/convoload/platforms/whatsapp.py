"""WhatsApp Cloud API, played for a bot under test (`target.type: whatsapp`).

Every simulated customer is a WhatsApp user: the identity's phone digits are its wa_id, its name the
contact profile. Each user message reaches the bot as the Cloud API's `messages` webhook
(object whatsapp_business_account, entry[].changes[].value with metadata, contacts and messages[]),
signed with X-Hub-Signature-256 (HMAC-SHA256 of the raw body with the app secret); a tap on a button or a
list row is sent as the interactive button_reply / list_reply it is on a phone, not as text.

The bot answers through the Graph endpoint `POST /{version}/{phone_number_id}/messages` (text,
interactive buttons and lists, templates, media, location, contacts, reactions; `status: read`, with an
optional typing indicator), checked like the real one: bearer token, phone number id, payload limits,
optional throughput. Accepted messages get the real response shape and `sent`/`delivered` statuses
webhooks (and `read` once the user has seen them); refused ones get the Graph error shape and count as
faults. A message to a number no conversation has is accepted, then fails asynchronously with 131026,
as the Cloud API does.
"""

from __future__ import annotations

import base64
import hmac
import json
import re
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode

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
from convoload.targets.signatures import CallbackSigner, SignatureScheme

MAX_TEXT_CHARS = 4096
_VERSION = re.compile(r"^v\d{1,2}\.\d$")
_MEDIA = ("image", "video", "audio", "document", "sticker")
_TYPES = ("text", "interactive", "template", "location", "contacts", "reaction", *_MEDIA)
_INBOUND_MEMORY = 200_000  # user message ids remembered, for mark-as-read and reply context


@dataclass(frozen=True, slots=True)
class WhatsAppSettings:
    app_secret: str
    access_token: str
    verify_token: str | None = None
    phone_number_id: str = "106540352242922"
    display_phone_number: str = "15550783881"
    business_account_id: str = "102290129340398"
    api_version: str | None = None  # None: any vNN.N
    statuses: bool = True
    max_text_chars: int = MAX_TEXT_CHARS
    throughput_per_s: float | None = None
    per_user_per_s: float | None = None  # the pair rate limit (131056)


class GraphError(Exception):
    """A refused call: the Graph API's error document, and the fault it counts as."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        fault: str,
        *,
        type_: str = "OAuthException",
        subcode: int | None = None,
        details: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.fault = fault
        error: dict[str, Any] = {"message": message, "type": type_, "code": code}
        if subcode is not None:
            error["error_subcode"] = subcode
        if details is not None:
            error["error_data"] = {"messaging_product": "whatsapp", "details": details}
        error["fbtrace_id"] = _fbtrace()
        self.document = {"error": error}
        self.detail = f"({code}) {details or message}"


def _fbtrace() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(8)).decode().rstrip("=")


def new_wamid(wa_id: str) -> str:
    """An id shaped like the Cloud API's: `wamid.` and base64 of the number and random bytes."""
    raw = (
        b"\x15\x02\x00\x11\x18"
        + wa_id.encode()
        + b"\x15\x02\x00\x12\x18\x14"
        + secrets.token_hex(10).encode()
    )
    return "wamid." + base64.b64encode(raw).decode()


def _param(value: Any, name: str, limit: int | None = None, *, required: bool = True) -> str:
    if value is None or value == "":
        if required:
            raise GraphError(400, 100, f"(#100) The parameter {name} is required.", "bad_payload")
        return ""
    if not isinstance(value, str):
        raise GraphError(
            400, 100, "(#100) Invalid parameter", "bad_payload", details=f"Param {name} must be a string."
        )
    if limit is not None and len(value) > limit:
        raise GraphError(
            400,
            131009,
            "(#131009) Parameter value is not valid",
            "bad_payload",
            details=f"{name} length invalid. Max length: {limit}",
        )
    return value


class WhatsAppPlatform:
    name = "whatsapp"

    def __init__(self, settings: WhatsAppSettings, hub: PlatformHub, sender: InboundSender) -> None:
        self.settings = settings
        self.hub = hub
        self.sender = sender
        self._signer = CallbackSigner(SignatureScheme(), settings.app_secret)
        self._bucket = TokenBucket(settings.throughput_per_s) if settings.throughput_per_s else None
        self._pair_buckets: OrderedDict[str, TokenBucket] = OrderedDict()  # per wa_id, when limited
        self._inbound: OrderedDict[str, str] = OrderedDict()  # user message id -> wa_id
        self._bsuid_key = secrets.token_bytes(16)
        self._bsuid_of: OrderedDict[str, str] = OrderedDict()  # wa_id -> business-scoped user id
        self._wa_id_of: dict[str, str] = {}
        self._metadata = {
            "display_phone_number": settings.display_phone_number,
            "phone_number_id": settings.phone_number_id,
        }

    # -- the user's side ----------------------------------------------------------------------------
    def address(self, session: Session) -> str:
        return session.identity.phone_digits

    def start(self) -> None:
        """Nothing to start: `verify()` is the subscription handshake, run by the builder when configured."""

    def verify(self) -> tuple[bool, str]:
        """Meta's subscription handshake: GET the bot's webhook with hub.mode, hub.verify_token and
        hub.challenge; the bot must answer 200 with the challenge. Returns (passed, what went wrong)."""
        challenge = str(secrets.randbelow(10**9))
        query = urlencode(
            {
                "hub.mode": "subscribe",
                "hub.verify_token": self.settings.verify_token or "",
                "hub.challenge": challenge,
            }
        )
        base = self.sender.endpoint.request_uri
        uri = f"{base}{'&' if '?' in base else '?'}{query}"
        try:
            status, content, _ = self.sender.get("verify", uri)
        except TargetError as exc:
            return False, exc.message
        finally:
            self.sender.endpoint.release("verify")
        if content.strip() != challenge.encode():
            return False, f"HTTP {status} without the challenge in the body"
        return True, ""

    def send_inbound(self, conversation: PlatformConversation, user: UserInput, turn: Turn) -> float:
        wa_id = conversation.address
        message_id = new_wamid(wa_id)
        message: dict[str, Any] = {"from": wa_id, "id": message_id, "timestamp": str(int(time.time()))}
        choice = user.choice
        if choice is None:
            message.update(type="text", text={"body": user.text})
        else:
            if choice.source_id:
                message = {
                    "context": {"from": self.settings.display_phone_number, "id": choice.source_id},
                    **message,
                }
            if choice.kind == "list_row":
                reply: dict[str, Any] = {"id": choice.id, "title": choice.label}
                if choice.description:
                    reply["description"] = choice.description
                message.update(type="interactive", interactive={"type": "list_reply", "list_reply": reply})
            else:
                button = {"id": choice.id, "title": choice.label}
                message.update(
                    type="interactive", interactive={"type": "button_reply", "button_reply": button}
                )
        value = {
            "messaging_product": "whatsapp",
            "metadata": self._metadata,
            "contacts": [
                {
                    "profile": {"name": conversation.session.identity.full_name},
                    "wa_id": wa_id,
                    "user_id": self.bsuid(wa_id),
                }
            ],
            "messages": [message],
        }
        self._remember(message_id, wa_id)
        _, _, ack_ms = self.sender.post(conversation.session.session_id, *self._signed(value))
        return ack_ms

    def after_turn(self, conversation: PlatformConversation, turn: Turn) -> None:
        # The user opened the chat: each message the turn showed is read.
        if self.settings.statuses:
            for message in turn.messages:
                self._status(
                    conversation.session.session_id, message.message_id, conversation.address, "read"
                )

    def finish(self, conversation: PlatformConversation) -> None:
        self.sender.finish(conversation.session.session_id)

    def close(self) -> None:
        self.sender.close()

    def bsuid(self, wa_id: str) -> str:
        """The user's business-scoped user id (`BR.` and digits), the same for a number all run long."""
        found = self._bsuid_of.get(wa_id)
        if found is None:
            digest = hmac.digest(self._bsuid_key, wa_id.encode(), "sha256")
            country = "BR" if wa_id.startswith("55") else "US"
            found = f"{country}.{int.from_bytes(digest[:8], 'big')}"
            self._bsuid_of[wa_id] = found
            self._wa_id_of[found] = wa_id
            if len(self._bsuid_of) > _INBOUND_MEMORY:
                self._wa_id_of.pop(self._bsuid_of.popitem(last=False)[1], None)
        return found

    def _remember(self, message_id: str, wa_id: str) -> None:
        self._inbound[message_id] = wa_id
        if len(self._inbound) > _INBOUND_MEMORY:
            self._inbound.popitem(last=False)

    def _signed(self, value: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        document = {
            "object": "whatsapp_business_account",
            "entry": [
                {"id": self.settings.business_account_id, "changes": [{"value": value, "field": "messages"}]}
            ],
        }
        body = to_json(document)
        return body, {"Content-Type": "application/json", **self._signer.headers(body)}

    def _status(self, key: str, message_id: str, wa_id: str, status: str, error: dict | None = None) -> None:
        entry: dict[str, Any] = {
            "id": message_id,
            "status": status,
            "timestamp": str(int(time.time())),
            "recipient_id": wa_id,
        }
        if status in ("sent", "delivered"):
            entry["conversation"] = {"id": f"CONVERSATION_{wa_id}", "origin": {"type": "service"}}
            entry["pricing"] = {"billable": False, "pricing_model": "PMP", "category": "service"}
        if error is not None:
            entry["errors"] = [error]
        contact = {"wa_id": wa_id} if status == "failed" else {"wa_id": wa_id, "user_id": self.bsuid(wa_id)}
        value = {
            "messaging_product": "whatsapp",
            "metadata": self._metadata,
            "contacts": [contact],
            "statuses": [entry],
        }
        self.sender.post_background(key, *self._signed(value))

    # -- the bot's side: the Graph API --------------------------------------------------------------
    def handle_api(self, request: ApiRequest) -> ApiResponse:
        document, recipient = self._parse(request)
        try:
            answer = self._messages(request, document, recipient)
        except GraphError as exc:
            self.hub.fault(recipient, exc.fault, exc.detail)
            return ApiResponse(exc.status, to_json(exc.document))
        return ApiResponse(200, to_json(answer))

    def _parse(self, request: ApiRequest) -> tuple[Any, str | None]:
        """The body (None when it is not a JSON object) and the recipient it names, to attribute faults."""
        document: Any = None
        content_type = request.headers.get("content-type", "")
        try:
            if "application/x-www-form-urlencoded" in content_type:
                form = parse_qs(request.body.decode(), keep_blank_values=True)
                document = {k: _form_value(v[-1]) for k, v in form.items()}
            elif request.body:
                document = from_json(request.body)
        except (ValueError, UnicodeDecodeError):
            document = None
        if not isinstance(document, dict):
            return None, None
        recipient = document.get("to")
        if isinstance(recipient, str | int) and not isinstance(recipient, bool):
            return document, _digits(str(recipient))
        user_id = document.get("recipient")
        if isinstance(user_id, str) and user_id:
            # A business-scoped user id: its number, or the id itself (an unknown recipient).
            return document, self._wa_id_of.get(user_id, user_id)
        message_id = document.get("message_id")
        if isinstance(message_id, str):
            return document, self._inbound.get(message_id)
        return document, None

    def _messages(self, request: ApiRequest, document: Any, recipient: str | None) -> dict[str, Any]:
        parts = request.path.strip("/").split("/")
        if len(parts) != 3 or not _VERSION.match(parts[0]) or parts[2] != "messages":
            raise GraphError(400, 2500, f"Unknown path components: {request.path}", "unknown_endpoint")
        version, phone_number_id, _ = parts
        self._authorize(request)
        if self.settings.api_version and version != self.settings.api_version:
            raise GraphError(
                400, 12, f"(#12) Graph API {version} is not the version this app uses", "bad_payload"
            )
        if phone_number_id != self.settings.phone_number_id:
            raise GraphError(
                400,
                100,
                f"Unsupported post request. Object with ID '{phone_number_id}' does not exist, "
                "cannot be loaded due to missing permissions, or does not support this operation.",
                "unknown_phone_number_id",
                type_="GraphMethodException",
                subcode=33,
            )
        if request.method != "POST":
            raise GraphError(400, 100, f"Unsupported {request.method.lower()} request.", "bad_payload")
        if document is None:
            raise GraphError(
                400, 100, "(#100) Invalid parameter", "bad_payload", details="The request body is not JSON."
            )
        if document.get("messaging_product") != "whatsapp":
            raise GraphError(400, 100, "(#100) The parameter messaging_product is required.", "bad_payload")
        if document.get("status") == "read":
            return self._mark_read(document, recipient)
        if recipient is None:
            raise GraphError(400, 100, "(#100) The parameter to or recipient is required.", "bad_payload")
        if self._bucket is not None and not self._bucket.take():
            raise GraphError(
                400,
                130429,
                "(#130429) Rate limit hit",
                "throughput",
                details="Cloud API message throughput has been reached.",
            )
        if self.settings.per_user_per_s and not self._pair_bucket(recipient).take():
            raise GraphError(
                400,
                131056,
                "(#131056) (Business Account, Consumer Account) pair rate limit hit",
                "pair_rate_limit",
                details="Message failed to send because there were too many messages sent from this phone "
                "number to the same phone number in a short period of time.",
            )
        kind = document.get("type") or "text"
        if kind not in _TYPES:
            raise GraphError(
                400,
                100,
                "(#100) Invalid parameter",
                "bad_payload",
                details=f"Param type must be one of {{{', '.join(_TYPES)}}}",
            )
        message_id = new_wamid(recipient)
        shown = self._shown(kind, document, message_id)
        if "to" in document:
            contact = {"input": str(document["to"]), "wa_id": recipient}
        else:  # addressed by business-scoped user id: answered with it, not with the number
            contact = {"input": str(document["recipient"]), "user_id": str(document["recipient"])}
        answer: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "contacts": [contact],
            "messages": [
                {"id": message_id, **({"message_status": "accepted"} if kind == "template" else {})}
            ],
        }
        key = self._key(recipient)
        if not self.hub.known(recipient):
            # The Cloud API accepts it, then reports the failure through the statuses webhook.
            self.hub.fault(None, "unknown_recipient", f"(131026) no conversation has the number {recipient}")
            error = {
                "code": 131026,
                "title": "Message undeliverable",
                "message": "Message undeliverable",
                "error_data": {"details": "Message Undeliverable."},
            }
            self._status("unknown-recipients", message_id, recipient, "failed", error)
            return answer
        self.hub.deliver(recipient, shown)
        if self.settings.statuses:
            self._status(key, message_id, recipient, "sent")
            self._status(key, message_id, recipient, "delivered")
        return answer

    def _pair_bucket(self, wa_id: str) -> TokenBucket:
        bucket = self._pair_buckets.get(wa_id)
        if bucket is None:
            bucket = self._pair_buckets[wa_id] = TokenBucket(self.settings.per_user_per_s or 1.0)
            if len(self._pair_buckets) > _INBOUND_MEMORY:
                self._pair_buckets.popitem(last=False)
        return bucket

    def _key(self, wa_id: str) -> str:
        conversation = self.hub.find(wa_id)
        return conversation.session.session_id if conversation is not None else f"wa:{wa_id}"

    def _authorize(self, request: ApiRequest) -> None:
        given = request.headers.get("authorization", "")
        token = given[7:].strip() if given[:7].lower() == "bearer " else None
        if token is None:
            token = parse_qs(request.query).get("access_token", [None])[-1]
        if not token:
            raise GraphError(
                400, 104, "An access token is required to request this resource.", "invalid_token"
            )
        if not secrets.compare_digest(token.encode(), self.settings.access_token.encode()):
            raise GraphError(
                401, 190, "Invalid OAuth access token - Cannot parse access token", "invalid_token"
            )

    def _mark_read(self, document: dict[str, Any], recipient: str | None) -> dict[str, Any]:
        message_id = document.get("message_id")
        if not isinstance(message_id, str) or recipient is None:
            raise GraphError(
                400,
                100,
                "(#100) Invalid parameter",
                "bad_payload",
                details="Invalid message_id for status read.",
            )
        typing = document.get("typing_indicator")
        if isinstance(typing, dict) and typing.get("type") == "text":
            self.hub.typing(recipient)
        return {"success": True}

    def _shown(self, kind: str, document: dict[str, Any], message_id: str) -> ShownMessage:
        body = document.get(kind)
        if not isinstance(body, dict) and kind != "contacts":
            raise GraphError(400, 100, f"(#100) The parameter {kind} is required.", "bad_payload")
        if kind == "text":
            text = _param(body.get("body"), "text['body']")
            if len(text) > self.settings.max_text_chars:
                raise GraphError(
                    400,
                    100,
                    "(#100) Invalid parameter",
                    "text_too_long",
                    details=f"Param text['body'] must be at most {self.settings.max_text_chars} "
                    "characters long.",
                )
            return ShownMessage(text, kind, message_id)
        if kind == "interactive":
            return self._interactive(body, message_id)
        if kind == "template":
            name = _param(body.get("name"), "template['name']", 512)
            language = body.get("language")
            if not isinstance(language, dict) or not language.get("code"):
                raise GraphError(
                    400, 100, "(#100) The parameter template['language'] is required.", "bad_payload"
                )
            texts = [
                str(p.get("text"))
                for c in body.get("components") or []
                if isinstance(c, dict)
                for p in c.get("parameters") or []
                if isinstance(p, dict) and p.get("type") == "text"
            ]
            return ShownMessage("\n".join([f"(template {name})", *texts]), kind, message_id)
        if kind in _MEDIA:
            if not body.get("id") and not body.get("link"):
                raise GraphError(
                    400,
                    100,
                    f"(#100) The parameter {kind}['id'] or {kind}['link'] is required.",
                    "bad_payload",
                )
            caption = body.get("caption") or body.get("filename") or ""
            return ShownMessage(f"({kind}) {caption}".rstrip(), kind, message_id)
        if kind == "location":
            label = " ".join(str(body.get(k)) for k in ("name", "address") if body.get(k))
            return ShownMessage(f"(location) {label}".rstrip(), kind, message_id)
        if kind == "contacts":
            people = document.get("contacts") if isinstance(document.get("contacts"), list) else []
            names = ", ".join(
                str((c.get("name") or {}).get("formatted_name", "")) for c in people if isinstance(c, dict)
            )
            return ShownMessage(f"(contacts) {names}".rstrip(), kind, message_id)
        emoji = body.get("emoji") or ""
        return ShownMessage(f"(reaction {emoji})".rstrip(), kind, message_id)

    def _interactive(self, body: dict[str, Any], message_id: str) -> ShownMessage:
        kind = body.get("type")
        action = body.get("action") if isinstance(body.get("action"), dict) else {}
        lines = []
        header = body.get("header")
        if isinstance(header, dict) and header.get("type") == "text":
            lines.append(_param(header.get("text"), "interactive['header']['text']", 60))
        main = body.get("body") if isinstance(body.get("body"), dict) else {}
        if kind in ("button", "list"):
            lines.append(
                _param(main.get("text"), "interactive['body']['text']", 1024 if kind == "button" else 4096)
            )
        elif main.get("text"):
            lines.append(str(main["text"]))
        footer = body.get("footer")
        if isinstance(footer, dict) and footer.get("text"):
            lines.append(_param(footer.get("text"), "interactive['footer']['text']", 60))
        choices: list[Choice] = []
        if kind == "button":
            buttons = action.get("buttons")
            if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
                raise GraphError(
                    400,
                    131009,
                    "(#131009) Parameter value is not valid",
                    "bad_payload",
                    details="Interactive buttons must be between 1 and 3.",
                )
            for button in buttons:
                reply = button.get("reply") if isinstance(button, dict) else None
                if not isinstance(reply, dict):
                    raise GraphError(
                        400,
                        100,
                        "(#100) The parameter interactive['action']['buttons'][0]['reply'] is required.",
                        "bad_payload",
                    )
                title = _param(reply.get("title"), "Button title", 20)
                choices.append(Choice(title, _param(reply.get("id"), "Button id", 256), "button", message_id))
            if len({c.id for c in choices}) != len(choices):
                raise GraphError(
                    400,
                    131009,
                    "(#131009) Parameter value is not valid",
                    "bad_payload",
                    details="Button ids must be unique.",
                )
        elif kind == "list":
            lines.append(f"({_param(action.get('button'), 'interactive list button', 20)})")
            sections = action.get("sections")
            if not isinstance(sections, list) or not 1 <= len(sections) <= 10:
                raise GraphError(
                    400,
                    131009,
                    "(#131009) Parameter value is not valid",
                    "bad_payload",
                    details="A list needs 1 to 10 sections.",
                )
            for section in sections:
                for row in (section.get("rows") if isinstance(section, dict) else None) or []:
                    if not isinstance(row, dict):
                        continue
                    title = _param(row.get("title"), "Row title", 24)
                    description = (
                        _param(row.get("description"), "Row description", 72, required=False) or None
                    )
                    choices.append(
                        Choice(
                            title, _param(row.get("id"), "Row id", 200), "list_row", message_id, description
                        )
                    )
            if not 1 <= len(choices) <= 10:
                raise GraphError(
                    400,
                    131009,
                    "(#131009) Parameter value is not valid",
                    "bad_payload",
                    details="A list needs 1 to 10 rows in all.",
                )
        elif kind in (
            "cta_url",
            "location_request_message",
            "flow",
            "product",
            "product_list",
            "catalog_message",
        ):
            parameters = action.get("parameters") if isinstance(action.get("parameters"), dict) else {}
            label = parameters.get("display_text") or parameters.get("flow_cta") or kind
            lines.append(f"({label})")
        else:
            raise GraphError(
                400, 100, "(#100) Invalid parameter", "bad_payload", details="Invalid interactive type."
            )
        chosen = tuple(choices)
        text = "\n".join(line for line in (*lines, choice_lines(chosen)) if line)
        return ShownMessage(text, "interactive", message_id, chosen)


def _digits(number: str) -> str:
    return "".join(ch for ch in number if ch.isdigit())


def _form_value(value: str) -> Any:
    # Graph takes form fields too; JSON-looking values (text={"body": ...}) are objects there.
    if value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
