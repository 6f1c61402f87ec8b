"""A small WhatsApp Cloud API bot written with pywa, the way it would run in production, to show convoload
playing WhatsApp for it. Only the Graph base URL and the secrets come from the environment:

  WA_GRAPH_URL      where the Graph API is (convoload's target.receiver public URL; Meta's in production)
  WA_TOKEN          the access token the bot sends as Bearer
  WA_APP_SECRET     the app secret: pywa verifies X-Hub-Signature-256 on every webhook with it
  WA_VERIFY_TOKEN   the webhook verify token (hub.verify_token in the subscription handshake)
  WA_PHONE_ID       the business phone number id

It books a store visit: greeting and a menu of buttons, a list of time slots, the customer's e-mail
typed as text, a confirmation button, then a confirmation with a link.

  python bot.py --port 8080        (prints "ready on PORT" once it listens)
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys

import httpx
from flask import Flask
from pywa import WhatsApp, filters
from pywa.types import Button, CallbackButton, CallbackSelection, Message, Section, SectionList, SectionRow
from werkzeug.serving import make_server

API_VERSION = "23.0"
SLOTS = {"slot-1": "Amanhã 10h", "slot-2": "Amanhã 15h", "slot-3": "Sexta 9h"}
chosen: dict[str, str] = {}  # wa_id -> slot label
emails: dict[str, str] = {}


def build() -> Flask:
    app = Flask(__name__)
    # pywa sends every Graph call through the httpx client it is given, relative to the client's base URL:
    # pointing that base URL at convoload (or at graph.facebook.com) is the only change between a test and
    # production.
    session = httpx.Client(timeout=30)
    wa = WhatsApp(
        phone_id=os.environ["WA_PHONE_ID"],
        token=os.environ["WA_TOKEN"],
        session=session,
        server=app,
        webhook_endpoint="/webhook",
        verify_token=os.environ["WA_VERIFY_TOKEN"],
        app_secret=os.environ["WA_APP_SECRET"],
        validate_updates=True,  # X-Hub-Signature-256: a forged webhook is refused
        webhook_challenge_delay=0,
        api_version=API_VERSION,
    )
    session.base_url = f"{os.environ['WA_GRAPH_URL'].rstrip('/')}/v{API_VERSION}"

    @wa.on_message(filters.text)
    def on_text(_: WhatsApp, msg: Message) -> None:
        msg.indicate_typing()
        user = msg.from_user.wa_id
        text = msg.text or ""
        if "@" in text and user in chosen:
            emails[user] = text.strip()
            msg.reply_text(
                f"Confirmar visita {chosen[user]} para {emails[user]}?",
                buttons=[Button("Confirmar", "confirm"), Button("Cancelar", "cancel")],
            )
            return
        msg.reply_text(f"Olá, {msg.from_user.name}! Sou o assistente da Loja Centro.")
        msg.reply_text(
            "Como posso ajudar?",
            buttons=[Button("Agendar visita", "book"), Button("Falar com atendente", "human")],
        )

    @wa.on_callback_button
    def on_button(_: WhatsApp, btn: CallbackButton) -> None:
        btn.indicate_typing()
        user = btn.from_user.wa_id
        if btn.data == "book":
            rows = [SectionRow(title=label, callback_data=key) for key, label in SLOTS.items()]
            btn.reply_text(
                "Escolha um horário:",
                buttons=SectionList(
                    button_title="Horários", sections=[Section(title="Esta semana", rows=rows)]
                ),
            )
        elif btn.data == "confirm" and user in emails:
            code = secrets.token_hex(3).upper()
            btn.reply_text(
                f"Agendamento confirmado! {chosen[user]}, protocolo WA-{code}. "
                f"Detalhes: https://loja.example/visitas/{code}"
            )
        elif btn.data == "human":
            btn.reply_text("Um atendente vai falar com você em breve.")
        else:
            btn.reply_text("Tudo bem, cancelado. Se quiser, é só escrever.")

    @wa.on_callback_selection
    def on_selection(_: WhatsApp, sel: CallbackSelection) -> None:
        sel.indicate_typing()
        chosen[sel.from_user.wa_id] = SLOTS.get(sel.data, sel.title)
        sel.reply_text(f"{sel.title}, anotado. Qual é o seu e-mail?")

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
