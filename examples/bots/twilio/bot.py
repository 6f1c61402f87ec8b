"""A small Twilio Messaging bot (WhatsApp or SMS) written with the official `twilio` helper library, the way
it would run in production, to show convoload playing Twilio for it. Only the API host and the secrets
come from the environment:

  TWILIO_API_URL      where the Twilio API is (convoload's target.receiver public URL; unset in production)
  TWILIO_ACCOUNT_SID  the account (Basic auth user)
  TWILIO_AUTH_TOKEN   the auth token: the REST client's password, and the key RequestValidator checks
                      X-Twilio-Signature with on every webhook and status callback

It books a store visit: a greeting and a quick-reply menu, the time slots as quick replies, the customer's
e-mail typed as text, a confirmation button, then the confirmation. Some replies go out through the REST
API (Messages.json, with Content API templates for the buttons and a StatusCallback), others as TwiML in
the webhook's answer. On SMS the same templates fall back to their twilio/text body, and the customer types
the option.

  python bot.py --port 8080        (prints "ready on PORT" once it listens)

Webhook: POST /incoming. Status callbacks: POST /status. GET /stats: what it counted.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import threading
from collections import Counter
from functools import wraps

from flask import Flask, Response, abort, jsonify, request
from requests.adapters import HTTPAdapter
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.rest.content.v1.content import ContentList
from twilio.twiml.messaging_response import MessagingResponse
from werkzeug.serving import make_server

SLOTS = {"slot-1": "Amanhã 10h", "slot-2": "Amanhã 15h", "slot-3": "Sexta 9h"}
TEMPLATES = {
    "menu": {
        "body": "Como posso ajudar?",
        "actions": [("Agendar visita", "book"), ("Falar com atendente", "human")],
    },
    "slots": {"body": "Escolha um horário:", "actions": [(label, key) for key, label in SLOTS.items()]},
    "confirm": {
        "body": "Confirmar visita {{1}} para {{2}}?",
        "actions": [("Confirmar", "confirm"), ("Cancelar", "cancel")],
    },
}


class ApiHostClient(TwilioHttpClient):
    """Twilio's documented way to reach another host: a custom HTTP client. It sends every
    https://<product>.twilio.com call to TWILIO_API_URL instead (convoload), path and all."""

    def __init__(self, base_url: str | None) -> None:
        super().__init__(timeout=30)
        self.base_url = base_url.rstrip("/") if base_url else None
        # Many customers at once: more pooled connections than requests' default ten.
        self.session.mount("http://", HTTPAdapter(pool_maxsize=64))

    def request(self, method, url, *args, **kwargs):
        if self.base_url and url.startswith("https://") and ".twilio.com/" in url:
            url = self.base_url + "/" + url.split(".twilio.com/", 1)[1]
        return super().request(method, url, *args, **kwargs)


def build() -> Flask:
    app = Flask(__name__)
    token = os.environ["TWILIO_AUTH_TOKEN"]
    client = Client(
        os.environ["TWILIO_ACCOUNT_SID"], token, http_client=ApiHostClient(os.environ.get("TWILIO_API_URL"))
    )
    validator = RequestValidator(token)
    contents: dict[str, str] = {}
    contents_lock = threading.Lock()
    chosen: dict[str, str] = {}  # customer address -> slot label
    emails: dict[str, str] = {}
    counts: Counter[str] = Counter()

    def signed(view):
        @wraps(view)
        def checked(*args, **kwargs):
            if not validator.validate(
                request.url, request.form, request.headers.get("X-Twilio-Signature", "")
            ):
                counts["forged"] += 1
                abort(403)
            return view(*args, **kwargs)

        return checked

    def content_sid(name: str) -> str:
        """The template's ContentSid, created through the Content API on first use."""
        with contents_lock:
            if name not in contents:
                spec = TEMPLATES[name]
                actions = [{"type": "QUICK_REPLY", "title": t, "id": i} for t, i in spec["actions"]]
                options = " / ".join(t for t, _ in spec["actions"])
                created = client.content.v1.contents.create(
                    ContentList.ContentCreateRequest(
                        {
                            "friendly_name": f"loja_{name}",
                            "language": "pt_BR",
                            "variables": {"1": "-", "2": "-"} if "{{" in spec["body"] else {},
                            "types": {
                                "twilio/quick-reply": {"body": spec["body"], "actions": actions},
                                "twilio/text": {"body": f"{spec['body']}\nResponda: {options}"},
                            },
                        }
                    )
                )
                contents[name] = created.sid
            return contents[name]

    def send(to: str, sender: str, *, body: str | None = None, template: str | None = None, **variables):
        options = {"status_callback": request.url_root + "status"}
        if template is not None:
            options.update(content_sid=content_sid(template), content_variables=json.dumps(variables))
        else:
            options["body"] = body
        client.messages.create(to=to, from_=sender, **options)

    def twiml(*messages: str) -> Response:
        answer = MessagingResponse()
        for text in messages:
            answer.message(text)
        return Response(str(answer), mimetype="text/xml")

    def choice() -> str:
        """The option the customer picked: a tapped button's payload, or a typed label (SMS)."""
        if request.form.get("ButtonPayload"):
            return request.form["ButtonPayload"]
        typed = (request.form.get("Body") or "").strip().casefold()
        for spec in TEMPLATES.values():
            for title, key in spec["actions"]:
                if typed == title.casefold():
                    return key
        return ""

    @app.post("/incoming")
    @signed
    def incoming() -> Response:
        counts["incoming"] += 1
        user, me = request.form["From"], request.form["To"]
        if user.startswith("whatsapp:"):  # "typing..." on the customer's phone while the bot works
            client.messaging.v2.typing_indicator.create(
                channel="whatsapp", message_id=request.form["MessageSid"]
            )
        name = request.form.get("ProfileName") or "cliente"
        picked = choice()
        text = (request.form.get("Body") or "").strip()
        if picked == "book":
            send(user, me, template="slots")
            return twiml()
        if picked in SLOTS:
            chosen[user] = SLOTS[picked]
            return twiml(f"{SLOTS[picked]}, anotado. Qual é o seu e-mail?")
        if "@" in text and user in chosen:
            emails[user] = text
            send(user, me, template="confirm", **{"1": chosen[user], "2": text})
            return twiml()
        if picked == "confirm" and user in emails:
            code = secrets.token_hex(3).upper()
            # Two TwiML <Message>s: two messages on the phone.
            return twiml(
                f"Agendamento confirmado! {chosen[user]}, protocolo TW-{code}.",
                f"Detalhes: https://loja.example/visitas/{code}",
            )
        if picked == "human":
            return twiml("Um atendente vai falar com você em breve.")
        if picked == "cancel":
            return twiml("Tudo bem, cancelado. Se quiser, é só escrever.")
        send(user, me, body=f"Olá, {name}! Sou o assistente da Loja Centro.")
        send(user, me, template="menu")
        return twiml()

    @app.post("/status")
    @signed
    def status() -> str:
        counts[f"status_{request.form['MessageStatus']}"] += 1
        return ""

    @app.get("/stats")
    def stats() -> Response:
        return jsonify(dict(counts))

    return app


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    server = make_server(args.host, args.port, build(), threaded=True)
    print(f"ready on {server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
