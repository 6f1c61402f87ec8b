"""Twilio Messaging, played for a bot under test (`target.type: twilio`), on WhatsApp or SMS.

Every simulated customer texts the bot's Twilio number: on WhatsApp from `whatsapp:+55...` (its name as
ProfileName, its digits as WaId), on SMS from `+55...`. Each user message reaches the bot as Twilio's
form-encoded incoming-message webhook (MessageSid SM..., AccountSid, From, To, Body, NumMedia, ...),
signed with X-Twilio-Signature: base64 HMAC-SHA1, with the auth token, of the full webhook URL followed
by every POST parameter's name and value, sorted by name. A tap on a quick-reply button sends
ButtonText/ButtonPayload (a list-picker item: ListId/ListTitle), as on a phone.

The bot answers in either or both of Twilio's ways: TwiML in the webhook's response (each <Message> one
message, its <Body> and <Media>; a text/plain body is one message), or the REST API
`POST /2010-04-01/Accounts/{AccountSid}/Messages.json` (Basic auth with the account or an API key; Body,
MediaUrl, or ContentSid + ContentVariables of a template created through the Content API
`POST /v1/Content`), answered with the Message resource or Twilio's error document
({code, message, more_info, status}). A message's StatusCallback gets signed sent/delivered callbacks
(read too on WhatsApp, once the user saw it). A message to a number no conversation has is accepted,
then reported undelivered through its callback, as Twilio does. The WhatsApp typing indicator
(`POST /v2/Indicators/Typing.json`, v3 too) is served too. Every bot URL on a *.twilio.com host lands
here: the bot points its client's hosts at the receiver.
"""

from __future__ import annotations

import base64
import hmac
import json
import math
import re
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode
from xml.etree import ElementTree

from pydantic_core import to_json

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
from convoload.targets.base import Session

MAX_TEXT_CHARS = 1600  # a message body, concatenated segments included
API_VERSION = "2010-04-01"
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_MESSAGES = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Messages\.json$")
_CONTENT = re.compile(r"^/v1/Content(?:/(HX[0-9a-f]{32}))?$")
_TYPING = re.compile(r"^/v[23]/Indicators/Typing\.json$")
_VARIABLE = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_MEMORY = 200_000  # message sids remembered: callbacks for read statuses, typing indicators
_FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True, slots=True)
class TwilioSettings:
    auth_token: str
    webhook_url: str  # exactly as signed: the bot validates against the URL it was called on
    account_sid: str = "AC" + "0" * 31 + "1"
    channel: str = "whatsapp"  # or "sms"
    phone_number: str = "+14155238886"
    messaging_service_sid: str | None = None
    api_key_sid: str | None = None
    api_key_secret: str | None = None
    statuses: bool = True
    max_text_chars: int = MAX_TEXT_CHARS
    throughput_per_s: float | None = None
    timeout_s: float = 10.0  # of the status callbacks' requests
    connect_timeout_s: float = 5.0


class TwilioError(Exception):
    """A refused call: Twilio's error document, and the fault it counts as."""

    def __init__(self, status: int, code: int, message: str, fault: str) -> None:
        super().__init__(message)
        self.status = status
        self.fault = fault
        self.document = {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }
        self.detail = f"({code}) {message}"


@dataclass(frozen=True, slots=True)
class Content:
    """A Content API template: its types by name (twilio/text, twilio/quick-reply, ...) and default
    variables."""

    sid: str
    document: dict[str, Any]
    types: dict[str, Any]
    variables: dict[str, str]


@dataclass(frozen=True, slots=True)
class _Sent:
    """What a later callback of an outbound message needs."""

    to: str
    sender: str
    callback: str | None
    messaging_service_sid: str | None


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def twilio_signature(auth_token: str, url: str, params: list[tuple[str, str]]) -> str:
    """Twilio's X-Twilio-Signature: the URL, then each parameter's name and value in name order (values of
    one name in order too), HMAC-SHA1 with the auth token, base64."""
    data = url + "".join(name + value for name, value in sorted(params))
    return base64.b64encode(hmac.digest(auth_token.encode(), data.encode(), "sha1")).decode()


def _now() -> str:
    return format_datetime(datetime.now(UTC).replace(microsecond=0))


def _segments(text: str) -> int:
    # GSM-7 sizes: 160 characters in one segment, 153 per segment once concatenated.
    return 1 if len(text) <= 160 else math.ceil(len(text) / 153)


class TwilioPlatform:
    name = "twilio"

    def __init__(self, settings: TwilioSettings, hub: PlatformHub, sender: InboundSender) -> None:
        self.settings = settings
        self.hub = hub
        self.sender = sender
        self.whatsapp = settings.channel == "whatsapp"
        self.bot_address = ("whatsapp:" if self.whatsapp else "") + settings.phone_number
        self._bucket = TokenBucket(settings.throughput_per_s) if settings.throughput_per_s else None
        self._contents: dict[str, Content] = {}
        self._sent: OrderedDict[str, _Sent] = OrderedDict()  # outbound sid -> its callback
        self._inbound: OrderedDict[str, str] = OrderedDict()  # user message sid -> user address
        self._callbacks: dict[str, InboundSender] = {}  # status callback URL -> its sender

    # -- the user's side ----------------------------------------------------------------------------
    def address(self, session: Session) -> str:
        number = "+" + session.identity.phone_digits
        return f"whatsapp:{number}" if self.whatsapp else number

    def start(self) -> None:
        """Nothing to start: Twilio has no handshake with the bot's webhook."""

    def send_inbound(self, conversation: PlatformConversation, user: UserInput, turn: Turn) -> float:
        address = conversation.address
        number = address.removeprefix("whatsapp:")
        sid = new_sid("SM")
        params: list[tuple[str, str]] = [
            ("MessageSid", sid),
            ("SmsMessageSid", sid),
            ("SmsSid", sid),
            ("AccountSid", self.settings.account_sid),
            ("From", address),
            ("To", self.bot_address),
            ("Body", user.text),
            ("NumMedia", "0"),
            ("NumSegments", str(_segments(user.text))),
            ("SmsStatus", "received"),
            ("ApiVersion", API_VERSION),
        ]
        if self.settings.messaging_service_sid:
            params.append(("MessagingServiceSid", self.settings.messaging_service_sid))
        if self.whatsapp:
            params += [
                ("ProfileName", conversation.session.identity.full_name),
                ("WaId", number[1:]),
                ("ReferralNumMedia", "0"),
            ]
            choice = user.choice
            if choice is None:
                params.append(("MessageType", "text"))
            else:
                if choice.kind == "list_item":
                    params += [
                        ("MessageType", "interactive"),
                        ("ListId", choice.id),
                        ("ListTitle", choice.label),
                    ]
                else:
                    params += [
                        ("MessageType", "button"),
                        ("ButtonText", choice.label),
                        ("ButtonPayload", choice.id),
                    ]
                if choice.source_id:
                    params += [
                        ("OriginalRepliedMessageSid", choice.source_id),
                        ("OriginalRepliedMessageSender", self.bot_address),
                    ]
        else:
            country = "BR" if number.startswith("+55") else "US"
            params += [("FromCountry", country), ("ToCountry", "US")]
        self._remember(self._inbound, sid, address)
        body = urlencode(params).encode()
        headers = {
            "Content-Type": _FORM,
            "X-Twilio-Signature": twilio_signature(
                self.settings.auth_token, self.settings.webhook_url, params
            ),
            "I-Twilio-Idempotency-Token": secrets.token_hex(16),
        }
        _, content, ack_ms = self.sender.post(conversation.session.session_id, body, headers)
        self._twiml(conversation, content)
        return ack_ms

    def after_turn(self, conversation: PlatformConversation, turn: Turn) -> None:
        # The user opened the chat: WhatsApp reports each message the turn showed as read.
        if self.settings.statuses and self.whatsapp:
            for message in turn.messages:
                sent = self._sent.get(message.message_id)
                if sent is not None:
                    self._status(conversation.session.session_id, message.message_id, sent, "read")

    def finish(self, conversation: PlatformConversation) -> None:
        key = conversation.session.session_id
        self.sender.finish(key)
        for sender in self._callbacks.values():
            sender.finish(key)

    def close(self) -> None:
        for sender in self._callbacks.values():
            sender.close()
        self.sender.close()

    # -- TwiML in the webhook's response ------------------------------------------------------------
    def _twiml(self, conversation: PlatformConversation, content: bytes) -> None:
        text = content.decode("utf-8", "replace").strip()
        if not text:
            return
        if not text.startswith("<"):  # a text/plain answer: Twilio sends it as one message
            self._accept(conversation.address, self.bot_address, text, (), None, None)
            return
        try:
            root = ElementTree.fromstring(text)
        except ElementTree.ParseError as exc:
            self.hub.fault(conversation.address, "bad_twiml", f"(12100) Document parse failure: {exc}")
            return
        if root.tag != "Response":
            self.hub.fault(
                conversation.address, "bad_twiml", f"(12200) the root is <{root.tag}>, not <Response>"
            )
            return
        for verb in root:
            if verb.tag != "Message":
                self.hub.fault(
                    conversation.address,
                    "bad_twiml",
                    f"(12200) <{verb.tag}> is not emulated in TwiML answers",
                )
                continue
            bodies = [b.text or "" for b in verb.iter("Body")]
            body = "".join(bodies) if bodies else (verb.text or "").strip()
            media = tuple((m.text or "").strip() for m in verb.iter("Media"))
            to = verb.get("to") or conversation.address
            if len(body) > self.settings.max_text_chars:
                self.hub.fault(
                    conversation.address,
                    "text_too_long",
                    f"(21617) The concatenated message body exceeds the {self.settings.max_text_chars} "
                    "character limit.",
                )
                continue
            callback = verb.get("action") or verb.get("statusCallback")
            self._accept(to, verb.get("from") or self.bot_address, body, media, None, callback)

    # -- the bot's side: the REST API ---------------------------------------------------------------
    def handle_api(self, request: ApiRequest) -> ApiResponse:
        form = self._form(request)
        recipient = form.get("To")
        try:
            self._authorize(request)
            matched = _MESSAGES.match(request.path)
            if matched:
                if request.method != "POST":
                    raise TwilioError(405, 20004, "Method not allowed", "bad_payload")
                return ApiResponse(201, to_json(self._create(matched.group(1), form)))
            matched = _CONTENT.match(request.path)
            if matched:
                return self._content(request, matched.group(1))
            if _TYPING.match(request.path) and request.method == "POST":
                return ApiResponse(200, to_json(self._typing(form)))
            raise TwilioError(
                404, 20404, f"The requested resource {request.path} was not found", "unknown_endpoint"
            )
        except TwilioError as exc:
            self.hub.fault(
                recipient if recipient and self.hub.find(recipient) else None, exc.fault, exc.detail
            )
            return ApiResponse(exc.status, to_json(exc.document))

    def _form(self, request: ApiRequest) -> dict[str, Any]:
        """The form's fields, repeated ones (MediaUrl) as lists."""
        if _FORM not in request.headers.get("content-type", ""):
            return {}
        try:
            pairs = parse_qsl(request.body.decode(), keep_blank_values=True)
        except UnicodeDecodeError:
            return {}
        form: dict[str, Any] = {}
        for name, value in pairs:
            if name == "MediaUrl":
                form.setdefault(name, []).append(value)
            else:
                form[name] = value
        return form

    def _authorize(self, request: ApiRequest) -> None:
        given = request.headers.get("authorization", "")
        user = password = ""
        if given[:6].lower() == "basic ":
            try:
                user, _, password = base64.b64decode(given[6:].strip()).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                user = password = ""
        s = self.settings
        if user == s.account_sid:
            expected = s.auth_token
        elif s.api_key_sid and user == s.api_key_sid:
            expected = s.api_key_secret or ""
        else:
            expected = None
        if expected is None or not secrets.compare_digest(password.encode(), expected.encode()):
            raise TwilioError(401, 20003, "Authenticate", "invalid_token")

    def _create(self, account_sid: str, form: dict[str, Any]) -> dict[str, Any]:
        s = self.settings
        if account_sid != s.account_sid:
            raise TwilioError(401, 20003, "Authenticate", "invalid_token")
        to = form.get("To") or ""
        if not to:
            raise TwilioError(400, 21604, "A 'To' phone number is required.", "bad_payload")
        sender = form.get("From") or ""
        service = form.get("MessagingServiceSid") or None
        if service is not None and service != s.messaging_service_sid:
            raise TwilioError(
                400, 21705, f"The Messaging Service Sid {service} is invalid.", "unknown_messaging_service"
            )
        if not sender and service is None:
            raise TwilioError(400, 21603, "A 'From' phone number is required.", "bad_payload")
        if sender and sender != self.bot_address:
            if self.whatsapp:
                raise TwilioError(
                    400,
                    63007,
                    "Twilio could not find a Channel with the specified From address",
                    "unknown_sender",
                )
            raise TwilioError(
                400,
                21606,
                f"The From phone number {sender} is not a valid, SMS-capable inbound phone number or "
                "short code for your account.",
                "unknown_sender",
            )
        if to.startswith("whatsapp:") != self.whatsapp:
            raise TwilioError(
                400,
                21910,
                "Invalid From and To pair. From and To should be of the same channel",
                "bad_payload",
            )
        if not _E164.match(to.removeprefix("whatsapp:")):
            raise TwilioError(
                400, 21211, f"The 'To' number {to} is not a valid phone number.", "invalid_recipient"
            )
        media = tuple(form.get("MediaUrl") or ())
        content_sid = form.get("ContentSid") or None
        body = form.get("Body") or ""
        choices: tuple[tuple[str, str, str, str | None], ...] = ()
        if content_sid is not None:
            body, choices = self._render(content_sid, form.get("ContentVariables"))
        elif not body and not media:
            raise TwilioError(400, 21602, "Message body is required.", "bad_payload")
        if len(body) > s.max_text_chars:
            raise TwilioError(
                400,
                21617,
                f"The concatenated message body exceeds the {s.max_text_chars} character limit.",
                "text_too_long",
            )
        if self._bucket is not None and not self._bucket.take():
            raise TwilioError(429, 20429, "Too Many Requests", "throughput")
        callback = form.get("StatusCallback") or None
        sid = self._accept(to, sender or self.bot_address, body, media, choices, callback, service)
        now = _now()
        uri = f"/{API_VERSION}/Accounts/{s.account_sid}/Messages/{sid}"
        return {
            "account_sid": s.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender or None,
            "messaging_service_sid": service,
            "num_media": str(len(media)),
            "num_segments": str(_segments(body)),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued" if sender else "accepted",
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": to,
            "uri": f"{uri}.json",
        }

    def _accept(
        self,
        to: str,
        sender: str,
        body: str,
        media: tuple[str, ...],
        choices: tuple[tuple[str, str, str, str | None], ...] | None,
        callback: str | None,
        service: str | None = None,
    ) -> str:
        """Hand an accepted message to its conversation (or report it undelivered); returns its sid."""
        sid = new_sid("SM" if not media else "MM")
        sent = _Sent(to, sender, callback, service)
        chosen = tuple(
            Choice(label, id_, kind, sid, description) for label, id_, kind, description in choices or ()
        )
        lines = [body, *(f"(media) {url}" for url in media), choice_lines(chosen)]
        shown = ShownMessage(
            "\n".join(line for line in lines if line), "content" if chosen else "text", sid, chosen
        )
        if not self.hub.known(to):
            # Twilio accepts it, then the carrier (or WhatsApp) reports the number unreachable.
            code = 63003 if self.whatsapp else 30005
            self.hub.fault(None, "unknown_recipient", f"({code}) no conversation has the address {to}")
            if callback:
                self._status(f"unknown:{to}", sid, sent, "failed" if self.whatsapp else "undelivered", code)
            return sid
        self.hub.deliver(to, shown)
        if callback:
            self._remember(self._sent, sid, sent)
            if self.settings.statuses:
                key = self._key(to)
                self._status(key, sid, sent, "sent")
                self._status(key, sid, sent, "delivered")
        return sid

    def _render(
        self, content_sid: str, raw_variables: str | None
    ) -> tuple[str, tuple[tuple[str, str, str, str | None], ...]]:
        content = self._contents.get(content_sid)
        if content is None:
            raise TwilioError(400, 21655, "The ContentSid is Invalid.", "unknown_content")
        variables = dict(content.variables)
        if raw_variables:
            try:
                given = json.loads(raw_variables)
            except ValueError:
                given = None
            if not isinstance(given, dict):
                raise TwilioError(400, 21656, "The ContentVariables Parameter is invalid.", "bad_payload")
            variables.update({str(k): str(v) for k, v in given.items()})

        def fill(text: Any) -> str:
            return _VARIABLE.sub(lambda m: variables.get(m.group(1), m.group(0)), str(text or ""))

        types = content.types
        # A phone shows the richest type its channel has; SMS falls back to the template's text.
        if self.whatsapp and "twilio/quick-reply" in types:
            kind = types["twilio/quick-reply"]
            actions = kind.get("actions") or []
            return fill(kind.get("body")), tuple(
                (fill(a.get("title")), fill(a.get("id") or a.get("title")), "quick_reply", None)
                for a in actions
            )
        if self.whatsapp and "twilio/list-picker" in types:
            kind = types["twilio/list-picker"]
            items = kind.get("items") or []
            body = f"{fill(kind.get('body'))}\n({fill(kind.get('button'))})"
            return body, tuple(
                (fill(i.get("item")), fill(i.get("id")), "list_item", fill(i.get("description")) or None)
                for i in items
            )
        for name in ("twilio/text", "twilio/quick-reply", "twilio/list-picker", "twilio/media"):
            if name in types:
                return fill(types[name].get("body")), ()
        raise TwilioError(400, 21655, "The ContentSid is Invalid.", "unknown_content")

    def _content(self, request: ApiRequest, sid: str | None) -> ApiResponse:
        if sid is not None:
            found = self._contents.get(sid)
            if request.method != "GET" or found is None:
                raise TwilioError(
                    404, 20404, f"The requested resource {request.path} was not found", "unknown_content"
                )
            return ApiResponse(200, to_json(found.document))
        if request.method != "POST":
            raise TwilioError(405, 20004, "Method not allowed", "bad_payload")
        try:
            document = json.loads(request.body or b"null")
        except ValueError:
            document = None
        types = document.get("types") if isinstance(document, dict) else None
        if isinstance(types, dict):
            types = {name: kind for name, kind in types.items() if kind is not None}
        if not isinstance(types, dict) or not types or not all(isinstance(v, dict) for v in types.values()):
            raise TwilioError(400, 20001, "Invalid Content: 'types' is required", "bad_payload")
        for action in (types.get("twilio/quick-reply") or {}).get("actions") or []:
            title = str(action.get("title") or "") if isinstance(action, dict) else ""
            if not 1 <= len(title) <= 20:
                raise TwilioError(
                    400, 20001, "Invalid Content: quick-reply titles are 1-20 characters", "bad_payload"
                )
        variables = document.get("variables") if isinstance(document.get("variables"), dict) else {}
        sid = new_sid("HX")
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        url = f"https://content.twilio.com/v1/Content/{sid}"
        answer = {
            "sid": sid,
            "account_sid": self.settings.account_sid,
            "friendly_name": document.get("friendly_name"),
            "language": document.get("language") or "en",
            "variables": variables,
            "types": types,
            "url": url,
            "date_created": now,
            "date_updated": now,
            "links": {
                "approval_create": f"{url}/ApprovalRequests/whatsapp",
                "approval_fetch": f"{url}/ApprovalRequests",
            },
        }
        self._contents[sid] = Content(sid, answer, types, {str(k): str(v) for k, v in variables.items()})
        return ApiResponse(201, to_json(answer))

    def _typing(self, form: dict[str, Any]) -> dict[str, Any]:
        message_id = form.get("messageId") or ""
        address = self._inbound.get(message_id)
        if form.get("channel") != "whatsapp" or address is None:
            raise TwilioError(400, 20001, "Invalid messageId or channel", "bad_payload")
        self.hub.typing(address)
        return {"success": True}

    # -- status callbacks ---------------------------------------------------------------------------
    def _status(self, key: str, sid: str, sent: _Sent, status: str, error_code: int | None = None) -> None:
        if sent.callback is None:
            return
        params = [
            ("AccountSid", self.settings.account_sid),
            ("ApiVersion", API_VERSION),
            ("From", sent.sender),
            ("MessageSid", sid),
            ("MessageStatus", status),
            ("SmsSid", sid),
            ("SmsStatus", status),
            ("To", sent.to),
        ]
        if sent.messaging_service_sid:
            params.append(("MessagingServiceSid", sent.messaging_service_sid))
        if self.whatsapp:
            params += [("ChannelPrefix", "whatsapp"), ("ChannelToAddress", sent.to.removeprefix("whatsapp:"))]
        if error_code is not None:
            params.append(("ErrorCode", str(error_code)))
        headers = {
            "Content-Type": _FORM,
            "X-Twilio-Signature": twilio_signature(self.settings.auth_token, sent.callback, params),
        }
        self._callback_sender(sent.callback).post_background(key, urlencode(params).encode(), headers)

    def _callback_sender(self, url: str) -> InboundSender:
        found = self._callbacks.get(url)
        if found is None:
            found = self._callbacks[url] = InboundSender(
                url,
                timeout_s=self.settings.timeout_s,
                connect_timeout_s=self.settings.connect_timeout_s,
                counters=self.hub.counters,
            )
        return found

    def _key(self, address: str) -> str:
        conversation = self.hub.find(address)
        return conversation.session.session_id if conversation is not None else f"twilio:{address}"

    @staticmethod
    def _remember(memory: OrderedDict, key: str, value: Any) -> None:
        memory[key] = value
        if len(memory) > _MEMORY:
            memory.popitem(last=False)
