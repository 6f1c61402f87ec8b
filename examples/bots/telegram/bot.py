"""A small Telegram bot written with python-telegram-bot, the way it would run in production, to show
convoload playing Telegram for it. Only the Bot API base URL and the secrets come from the environment:

  TG_API_URL   where the Bot API is (convoload's target.receiver public URL; https://api.telegram.org
               in production). python-telegram-bot appends the token to base_url, so the bot calls
               {TG_API_URL}/bot<token>/<method>.
  TG_TOKEN     the bot token
  TG_SECRET    webhook mode: the secret token set with setWebhook; python-telegram-bot refuses (403)
               every webhook POST whose X-Telegram-Bot-Api-Secret-Token differs

It sells a plan: a greeting with an inline keyboard, the plans (the message is edited in place), the
customer's e-mail typed as text, a reply keyboard to confirm, then a payment link.

  python bot.py                                   long polling (getUpdates)
  python bot.py --webhook --port 8443             webhook mode: sets its webhook, listens on --port

Both wait for the Bot API to come up (bootstrap retries), as a deployed bot rides out an outage.
"""

from __future__ import annotations

import argparse
import os
import secrets

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ChatAction
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

PLANS = {"plan:basic": ("Básico", "R$ 29"), "plan:pro": ("Pro", "R$ 59")}


async def greet(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None and update.effective_user is not None
    context.user_data.clear()  # type: ignore[union-attr]
    await update.message.reply_text(f"Olá, {update.effective_user.first_name}! Sou o bot da Loja Centro.")
    await update.message.reply_text(
        "Como posso ajudar?",
        reply_markup=InlineKeyboardMarkup(
            [
                [InlineKeyboardButton("Ver planos", callback_data="plans")],
                [InlineKeyboardButton("Falar com atendente", callback_data="human")],
            ]
        ),
    )


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    data = context.user_data
    assert data is not None
    if query.data == "plans":
        await query.answer()
        buttons = [
            [InlineKeyboardButton(f"{name} - {price}", callback_data=key)]
            for key, (name, price) in PLANS.items()
        ]
        await query.edit_message_text("Escolha um plano:", reply_markup=InlineKeyboardMarkup(buttons))
    elif query.data in PLANS:
        name, price = PLANS[query.data]
        data["plan"] = f"Plano {name} ({price})"
        await query.answer(f"Plano {name} selecionado")
        await query.edit_message_text(f"Plano escolhido: {data['plan']}")
        await context.bot.send_message(query.message.chat.id, "Qual é o seu e-mail?")
    else:
        await query.answer()
        await context.bot.send_message(query.message.chat.id, "Um atendente vai falar com você em breve.")


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.message
    assert message is not None and message.text is not None
    data = context.user_data
    assert data is not None
    text = message.text.strip()
    await context.bot.send_chat_action(message.chat.id, ChatAction.TYPING)
    if "plan" in data and "@" in text:
        data["email"] = text
        await message.reply_text(
            f"Confirmar pagamento do {data['plan']} para {text}?",
            reply_markup=ReplyKeyboardMarkup(
                [["Confirmar", "Cancelar"]], one_time_keyboard=True, resize_keyboard=True
            ),
        )
    elif text == "Confirmar" and "email" in data:
        code = secrets.token_hex(4).upper()
        await message.reply_text(
            f"Pagamento criado! {data['plan']}. Pague aqui: https://pay.example/tg/{code}",
            reply_markup=ReplyKeyboardRemove(),
        )
        data.clear()
    elif text == "Cancelar":
        data.clear()
        await message.reply_text(
            "Tudo bem, cancelado. Se quiser, é só escrever.", reply_markup=ReplyKeyboardRemove()
        )
    else:
        await greet(update, context)


def build() -> Application:
    async def announce(_: Application) -> None:
        print("ready", flush=True)  # the Bot API answered getMe

    app = (
        ApplicationBuilder()
        .token(os.environ["TG_TOKEN"])
        .base_url(f"{os.environ['TG_API_URL'].rstrip('/')}/bot")
        .concurrent_updates(True)  # many customers at once: one slow chat does not hold the others
        .post_init(announce)
        .build()
    )
    app.add_handler(CommandHandler("start", greet))
    app.add_handler(CallbackQueryHandler(on_button))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, on_text))
    return app


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--webhook", action="store_true", help="receive updates by webhook, not getUpdates")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8443, help="webhook mode: where the bot listens")
    args = parser.parse_args()
    app = build()
    if args.webhook:
        app.run_webhook(
            listen=args.host,
            port=args.port,
            url_path="telegram",
            webhook_url=f"http://{args.host}:{args.port}/telegram",
            secret_token=os.environ["TG_SECRET"],
            bootstrap_retries=-1,
        )
    else:
        app.run_polling(bootstrap_retries=-1, poll_interval=0.0, timeout=10)


if __name__ == "__main__":
    main()
