"""Build an emulated platform target from the validated Config (it reads the config, so it sits above it,
like load.wiring; nothing else under platforms/ imports config)."""

from __future__ import annotations

from collections.abc import Callable

from convoload.config import Config, config_error, persona_specs
from convoload.envsecrets import secret_from_env
from convoload.platforms.base import PlatformHub, PlatformTarget
from convoload.platforms.sender import InboundSender
from convoload.platforms.server import PlatformServer
from convoload.platforms.telegram import MAX_TEXT_CHARS as TELEGRAM_MAX_TEXT_CHARS
from convoload.platforms.telegram import TelegramPlatform, TelegramSettings
from convoload.platforms.twilio import MAX_TEXT_CHARS as TWILIO_MAX_TEXT_CHARS
from convoload.platforms.twilio import TwilioPlatform, TwilioSettings
from convoload.platforms.whatsapp import MAX_TEXT_CHARS, WhatsAppPlatform, WhatsAppSettings
from convoload.targets.lean_wsgi import ConnectionLimits
from convoload.targets.templating import UrlTemplate


def _secret(config: Config, field: str, name: str | None) -> str | None:
    if name is None:
        return None
    value = secret_from_env(name)
    if not value:  # checked when the config was loaded; the environment changed since
        raise config_error(config, field, f"environment variable {name} is not set")
    return value


def _whatsapp(config: Config, hub: PlatformHub, sender: InboundSender) -> WhatsAppPlatform:
    platform = config.target.platform
    wa = platform.whatsapp
    assert wa is not None  # TargetConfig requires it for this type
    field = "target.platform.whatsapp"
    settings = WhatsAppSettings(
        app_secret=_secret(config, f"{field}.app_secret_env", wa.app_secret_env) or "",
        access_token=_secret(config, f"{field}.access_token_env", wa.access_token_env) or "",
        verify_token=_secret(config, f"{field}.verify_token_env", wa.verify_token_env),
        phone_number_id=wa.phone_number_id,
        display_phone_number=wa.display_phone_number,
        business_account_id=wa.business_account_id,
        api_version=wa.api_version,
        statuses=platform.statuses,
        max_text_chars=platform.max_text_chars or MAX_TEXT_CHARS,
        throughput_per_s=platform.throughput_per_s,
        per_user_per_s=platform.per_user_per_s,
    )
    return WhatsAppPlatform(settings, hub, sender)


def _verify_whatsapp(config: Config, platform: WhatsAppPlatform) -> None:
    if platform.settings.verify_token is None:
        return
    passed, problem = platform.verify()
    if not passed:
        raise config_error(
            config,
            "target.platform.whatsapp.verify_token_env",
            f"the bot at target.url did not pass the webhook verification handshake: {problem}",
        )


def _telegram(config: Config, hub: PlatformHub, sender: InboundSender | None) -> TelegramPlatform:
    from convoload.personas import resolve_personas  # the personas' languages: each user's language_code

    t = config.target
    tg = t.platform.telegram
    assert tg is not None  # TargetConfig requires it for this type
    field = "target.platform.telegram"
    personas = resolve_personas(persona_specs(config), base_dir=config.base_dir, source=config.source)
    settings = TelegramSettings(
        token=_secret(config, f"{field}.token_env", tg.token_env) or "",
        webhook_url=t.url,
        secret_token=_secret(config, f"{field}.secret_token_env", tg.secret_token_env),
        bot_username=tg.bot_username,
        bot_first_name=tg.bot_first_name,
        max_text_chars=t.platform.max_text_chars or TELEGRAM_MAX_TEXT_CHARS,
        throughput_per_s=t.platform.throughput_per_s,
        languages={p.name: p.language for p in personas},
        timeout_s=t.ack_timeout_s,
        connect_timeout_s=t.connect_timeout_s,
    )
    return TelegramPlatform(settings, hub, sender)


def _twilio(config: Config, hub: PlatformHub, sender: InboundSender | None) -> TwilioPlatform:
    t = config.target
    tw = t.platform.twilio
    assert tw is not None and sender is not None and t.url  # TargetConfig requires them for this type
    field = "target.platform.twilio"
    # X-Twilio-Signature covers the URL the bot is called on: it must be one URL, {env.*} filled in.
    webhook_url = UrlTemplate(t.url, t.variables, field="target.url").fixed_url
    if webhook_url is None:
        raise config_error(
            config, "target.url", "a twilio webhook URL is signed: no per-request placeholders"
        )
    settings = TwilioSettings(
        auth_token=_secret(config, f"{field}.auth_token_env", tw.auth_token_env) or "",
        webhook_url=webhook_url,
        account_sid=tw.account_sid,
        channel=tw.channel,
        phone_number=tw.phone_number,
        messaging_service_sid=tw.messaging_service_sid,
        api_key_sid=tw.api_key_sid,
        api_key_secret=_secret(config, f"{field}.api_key_secret_env", tw.api_key_secret_env),
        statuses=t.platform.statuses,
        max_text_chars=t.platform.max_text_chars or TWILIO_MAX_TEXT_CHARS,
        throughput_per_s=t.platform.throughput_per_s,
        timeout_s=t.ack_timeout_s,
        connect_timeout_s=t.connect_timeout_s,
    )
    return TwilioPlatform(settings, hub, sender)


# target.type -> (builds the platform, checks it with the bot once the server is up)
PLATFORMS: dict[str, tuple[Callable[..., object], Callable[..., None]]] = {
    "whatsapp": (_whatsapp, _verify_whatsapp),
    "telegram": (_telegram, lambda config, platform: None),
    "twilio": (_twilio, lambda config, platform: None),
}


def build_platform_target(config: Config, *, worker_index: int | None = None) -> PlatformTarget:
    t = config.target
    build, check = PLATFORMS[t.type]
    hub = PlatformHub()
    # No target.url: a Telegram bot that polls, or sets its webhook itself (the platform makes its sender).
    sender = (
        InboundSender(
            t.url, timeout_s=t.ack_timeout_s, connect_timeout_s=t.connect_timeout_s, counters=hub.counters
        )
        if t.url
        else None
    )
    if worker_index:  # a Locust worker past the first: the bot knows one platform base URL only
        raise config_error(
            config,
            "target.type",
            f"{t.type}: the emulated platform serves one bot from one process; run it on one worker",
        )
    platform = build(config, hub, sender)
    port = t.receiver.port + (worker_index or 0) if t.receiver.port else 0
    server = PlatformServer(
        platform,  # type: ignore[arg-type]
        host=t.receiver.host,
        port=port,
        public_url=t.receiver.public_url,
        max_body_bytes=t.receiver.max_body_bytes,
        limits=ConnectionLimits(
            header_timeout_s=t.receiver.header_timeout_s,
            body_timeout_s=t.receiver.body_timeout_s,
            idle_timeout_s=t.receiver.idle_timeout_s,
            max_connections=t.receiver.max_connections,
        ),
        worker_index=worker_index,
    )
    try:
        server.start()
    except OSError as exc:
        raise config_error(
            config,
            "target.receiver.port",
            f"cannot listen on {t.receiver.host}:{port}: {exc.strerror or exc}",
        ) from None
    target = PlatformTarget(
        platform,  # type: ignore[arg-type]
        hub,
        server=server,
        reply_timeout_s=t.timeout_s,
        quiet_period_s=t.quiet_period_s,
        taps=t.platform.taps,
    )
    try:
        platform.start()  # type: ignore[attr-defined]
        check(config, platform)
    except BaseException:
        target.close()
        raise
    return target
