"""The run configuration (YAML), validated up front so a bad file fails before anything starts.

Secrets never live in the file: use `{env.NAME}` placeholders, filled from the
environment or a `.env` file next to the config or in the working directory.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from convoload.envsecrets import load_env_files, secret_from_env
from convoload.errors import ConfigError, pydantic_error_to_config_error
from convoload.safeyaml import load_yaml_mapping


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunSettings(_Strict):
    conversations: int = Field(default=10, ge=1, description="conversations to run (convoload run)")
    concurrency: int = Field(default=3, ge=1, description="conversations at the same time")
    max_iterations: int = Field(default=15, ge=1, le=500, description="turns before giving up")
    seed: int | None = Field(default=None, description="seed for personas and identities (random if unset)")
    think_time_s: float = Field(default=0.0, ge=0, description="pause of the user between turns")
    ramp_up_s: float = Field(default=0.0, ge=0, description="spread the first conversations over this long")
    runs_dir: str = "runs"
    stop_timeout_s: float = Field(
        default=300.0, ge=0, description="under Locust: how long a stopping test lets conversations finish"
    )
    persona_assignment: Literal["random", "round_robin"] = "random"
    worker_index_block: int = Field(
        default=1_000_000,
        ge=1,
        description="under Locust workers: conversation indices per worker (worker k uses block k), "
        "so personas and identities stay unique across workers",
    )


class GoalConfig(_Strict):
    type: Literal["link", "regex", "python"] = "link"
    pattern: str | None = None
    function: str | None = None

    @model_validator(mode="after")
    def _check(self) -> GoalConfig:
        if self.type == "regex" and not self.pattern:
            raise ValueError("a regex goal needs 'pattern'")
        if self.type == "python" and not self.function:
            raise ValueError("a python goal needs 'function' (module:function)")
        if self.pattern:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"invalid regular expression: {exc}") from None
        return self


# Any {placeholder} but the ones URL templates know.
_URL_PLACEHOLDERS = re.compile(
    r"\{(?!(?:host|port|worker_index|hostname|env\.[A-Za-z_][A-Za-z0-9_]*)\})[^{}]*\}"
)


def _check_url_template(value: str | None, allowed: str) -> str | None:
    if value is not None:
        unknown = _URL_PLACEHOLDERS.search(value)
        if unknown:
            raise ValueError(f"unknown placeholder {unknown.group(0)} (allowed: {allowed})")
        if not re.match(r"^https?://", value):
            raise ValueError("must start with http:// or https://")
    return value


class ForwarderConfig(_Strict):
    """One public callback address on the Locust master, forwarding each callback to its worker."""

    host: str = Field(default="127.0.0.1", description="where the master listens (0.0.0.0: every interface)")
    port: int = Field(default=0, ge=0, le=65535, description="0 picks a free port")
    public_url: str | None = Field(
        default=None, description="what the agent calls, e.g. an ingress; may use {host}, {port}, {hostname}"
    )
    timeout_s: float = Field(default=10.0, gt=0, description="per forwarded callback, to the worker")

    @model_validator(mode="after")
    def _check(self) -> ForwarderConfig:
        _check_url_template(self.public_url, "{host}, {port}, {hostname}, {env.NAME}")
        return self


# Hash functions an HMAC signature may use (the shake_* ones have no fixed digest size).
HMAC_ALGORITHMS = sorted(a for a in hashlib.algorithms_guaranteed if not a.startswith("shake_"))
_HEADER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SignatureConfig(_Strict):
    """Callbacks must carry an HMAC of their body, as WhatsApp, GitHub and Slack sign their webhooks.

    Signed bytes: the raw body; with `timestamp_header`, `{version}:{timestamp}:{body}` where version
    is the prefix without its trailing `=` (Slack: `v0:{timestamp}:{body}`; an empty prefix signs
    `{timestamp}:{body}`), and the timestamp (Unix seconds) must be within `tolerance_s` of our clock.
    """

    header: str = Field(default="X-Hub-Signature-256", description="request header with the signature")
    secret_env: str = Field(description="environment variable (or .env entry) with the shared secret")
    algorithm: str = Field(default="sha256", description=f"HMAC hash: {', '.join(HMAC_ALGORITHMS)}")
    prefix: str = Field(default="sha256=", description="text before the hex digest, e.g. sha256= or v0=")
    timestamp_header: str | None = Field(
        default=None, description="request header with the Unix time signed with the body (Slack)"
    )
    tolerance_s: float = Field(default=300.0, gt=0, description="how old (or early) a timestamp may be")

    @field_validator("header", "timestamp_header")
    @classmethod
    def _header_name(cls, value: str | None) -> str | None:
        if value is not None and not _HEADER_NAME.match(value):
            raise ValueError(f"{value!r} is not an HTTP header name")
        return value

    @field_validator("algorithm")
    @classmethod
    def _algorithm(cls, value: str) -> str:
        if value.lower() not in HMAC_ALGORITHMS:
            raise ValueError(f"{value!r} is not one of {', '.join(HMAC_ALGORITHMS)}")
        return value.lower()

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not value.isascii() or not value.isprintable():
            raise ValueError("the prefix must be printable ASCII")
        return value

    @field_validator("secret_env")
    @classmethod
    def _secret_is_set(cls, value: str) -> str:
        if not _ENV_NAME.match(value):
            raise ValueError(f"{value!r} is not an environment variable name")
        if not secret_from_env(value):  # remembered as a secret: redacted wherever it could show
            raise ValueError(f"environment variable {value} is not set (the callback signing secret)")
        return value


class ReceiverConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(
        default=0, ge=0, le=65535, description="0 picks a free port; under Locust, worker k uses port + k"
    )
    public_url: str | None = Field(
        default=None,
        description="URL the agent calls back, e.g. a tunnel; may use {host}, {port}, {worker_index}, "
        "{hostname} and {env.NAME}",
    )
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    forwarder: ForwarderConfig | None = Field(
        default=None, description="under Locust master/workers: callbacks go to the master, which forwards"
    )
    signature: SignatureConfig | None = Field(
        default=None, description="callbacks must be signed (HMAC of the body); unsigned ones are forged"
    )
    header_timeout_s: float = Field(
        default=5.0, gt=0, description="a callback's request line and headers must arrive within this"
    )
    body_timeout_s: float = Field(default=10.0, gt=0, description="... and its body within this after them")
    idle_timeout_s: float = Field(
        default=15.0, gt=0, description="kept-alive connections idle this long are closed"
    )
    max_connections: int = Field(
        default=4096, ge=1, description="open connections at most; past it a new one gets 503 at once"
    )

    @model_validator(mode="after")
    def _check(self) -> ReceiverConfig:
        _check_url_template(self.public_url, "{host}, {port}, {worker_index}, {hostname}, {env.NAME}")
        return self


class DemoConfig(BaseModel):
    """A bundled system (convoload.bundled) and its options: the other fields, checked against the
    options model of the system `agent` names (its pack is loaded only when options are given)."""

    model_config = ConfigDict(extra="allow")

    agent: str = Field(
        default="tickets", description="which bundled agent: tickets, realestate or one a pack registers"
    )

    @field_validator("agent")
    @classmethod
    def _installed(cls, value: str) -> str:
        from convoload.bundled import bundled_agent

        bundled_agent(value)  # ValueError naming the installed ones
        return value

    @model_validator(mode="after")
    def _options(self) -> DemoConfig:
        if self.model_extra:  # errors name target.demo.<field>
            from convoload.bundled import BUNDLED

            BUNDLED.get(self.agent).options.model_validate(self.model_extra)
        return self

    @property
    def options(self) -> dict[str, Any]:
        """The options given for the system (its options model fills in the rest)."""
        return dict(self.model_extra or {})


class WhatsAppConfig(_Strict):
    """The WhatsApp Cloud API convoload plays for the bot (`target.type: whatsapp`)."""

    app_secret_env: str = Field(description="environment variable with the app secret (signs the webhooks)")
    access_token_env: str = Field(description="environment variable with the access token the bot sends")
    verify_token_env: str | None = Field(
        default=None, description="environment variable with the verify token: handshake GET at start"
    )
    phone_number_id: str = "106540352242922"
    display_phone_number: str = "15550783881"
    business_account_id: str = "102290129340398"
    api_version: str | None = Field(default=None, description="e.g. v23.0: calls to another version fail")

    @field_validator("app_secret_env", "access_token_env", "verify_token_env")
    @classmethod
    def _env_set(cls, value: str | None) -> str | None:
        if value is not None:
            if not _ENV_NAME.match(value):
                raise ValueError(f"{value!r} is not an environment variable name")
            if not secret_from_env(value):  # remembered as a secret: redacted wherever it could show
                raise ValueError(f"environment variable {value} is not set")
        return value


_BOT_TOKEN = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{1,80}$")
_SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class TelegramConfig(_Strict):
    """The Telegram Bot API convoload plays for the bot (`target.type: telegram`)."""

    token_env: str = Field(
        description="environment variable with the bot token (the bot calls /bot<token>/<method>)"
    )
    secret_token_env: str | None = Field(
        default=None,
        description="environment variable with the secret token of the webhook at target.url (sent as "
        "X-Telegram-Bot-Api-Secret-Token)",
    )
    bot_username: str = Field(default="convoload_test_bot", pattern=r"^[A-Za-z][A-Za-z0-9_]{3,31}$")
    bot_first_name: str = Field(default="Convoload Test Bot", min_length=1, max_length=64)

    @field_validator("token_env", "secret_token_env")
    @classmethod
    def _env_set(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return value
        if not _ENV_NAME.match(value):
            raise ValueError(f"{value!r} is not an environment variable name")
        secret = secret_from_env(value)  # remembered as a secret: redacted wherever it could show
        if not secret:
            raise ValueError(f"environment variable {value} is not set")
        shape = _BOT_TOKEN if info.field_name == "token_env" else _SECRET_TOKEN
        if not shape.match(secret):
            what = "a bot token (digits:letters)" if shape is _BOT_TOKEN else "1-256 of A-Z a-z 0-9 _ -"
            raise ValueError(f"environment variable {value} does not hold {what}")
        return value


_TWILIO_SID = r"^{}[0-9a-f]{{32}}$"


class TwilioConfig(_Strict):
    """Twilio Messaging convoload plays for the bot (`target.type: twilio`), on WhatsApp or SMS."""

    channel: Literal["whatsapp", "sms"] = Field(
        default="whatsapp",
        description="whatsapp: addresses whatsapp:+E.164, quick replies; sms: plain +E.164",
    )
    account_sid: str = Field(default="AC" + "0" * 31 + "1", pattern=_TWILIO_SID.format("AC"))
    auth_token_env: str = Field(
        description="environment variable with the auth token (Basic auth password; signs the webhooks)"
    )
    api_key_sid: str | None = Field(
        default=None, pattern=_TWILIO_SID.format("SK"), description="an API key the bot may authenticate with"
    )
    api_key_secret_env: str | None = Field(default=None, description="environment variable with its secret")
    phone_number: str = Field(
        default="+14155238886", pattern=r"^\+[1-9][0-9]{6,14}$", description="the bot's Twilio number, E.164"
    )
    messaging_service_sid: str | None = Field(
        default=None,
        pattern=_TWILIO_SID.format("MG"),
        description="sent as MessagingServiceSid; the bot may send with it",
    )

    @field_validator("auth_token_env", "api_key_secret_env")
    @classmethod
    def _env_set(cls, value: str | None) -> str | None:
        if value is not None:
            if not _ENV_NAME.match(value):
                raise ValueError(f"{value!r} is not an environment variable name")
            if not secret_from_env(value):  # remembered as a secret: redacted wherever it could show
                raise ValueError(f"environment variable {value} is not set")
        return value

    @model_validator(mode="after")
    def _key_pair(self) -> TwilioConfig:
        if (self.api_key_sid is None) != (self.api_key_secret_env is None):
            raise ValueError("api_key_sid and api_key_secret_env go together")
        return self


class PlatformConfig(_Strict):
    """Settings of an emulated messaging platform (target.type whatsapp, ...)."""

    throughput_per_s: float | None = Field(
        default=None, gt=0, description="messages per second the bot may send; past it, the platform's error"
    )
    per_user_per_s: float | None = Field(
        default=None, gt=0, description="messages per second to one user; past it, the platform's error"
    )
    max_text_chars: int | None = Field(default=None, ge=1, description="default: the platform's own limit")
    taps: bool = Field(default=True, description="a user message equal to a shown button label taps it")
    statuses: bool = Field(default=True, description="send delivery/read status callbacks to the bot")
    whatsapp: WhatsAppConfig | None = None
    telegram: TelegramConfig | None = None
    twilio: TwilioConfig | None = None


PLATFORM_TYPES = ("whatsapp", "telegram", "twilio")


class TargetConfig(_Strict):
    type: Literal["demo", "webhook", "http", "python", "whatsapp", "telegram", "twilio"] = "demo"
    # Before url: the URL's placeholders may name them.
    variables: dict[str, Any] = Field(default_factory=dict)
    url: str | None = Field(
        default=None, description="may use {env.NAME}, target.variables and the body's placeholders"
    )
    preset: Literal["widget"] | None = None
    method: Literal["POST", "PUT", "PATCH"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    reply_path: str | None = None
    agent_path: str | None = None
    cost_path: str | None = Field(
        default=None,
        description="http/webhook: where a reply says what the turn cost the agent, in USD",
    )
    message_id_path: str | None = None
    final_path: str | None = None
    timeout_s: float = Field(
        default=30.0, gt=0, description="http: request timeout; webhook: wait for callback"
    )
    ack_timeout_s: float = Field(default=10.0, gt=0)
    connect_timeout_s: float = Field(default=5.0, gt=0)
    quiet_period_s: float = Field(default=0.0, ge=0, description="webhook: gather callbacks until this quiet")
    function: str | None = None
    receiver: ReceiverConfig = Field(default_factory=ReceiverConfig)
    platform: PlatformConfig = Field(default_factory=PlatformConfig)
    demo: DemoConfig = Field(default_factory=DemoConfig)

    @field_validator("url")
    @classmethod
    def _url_template(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value:  # unknown placeholders, unset variables, no http(s):// host: now, not at the first request
            from convoload.targets.templating import UrlTemplate

            UrlTemplate(value, info.data.get("variables") or {})
        return value

    @model_validator(mode="after")
    def _check_target(self) -> TargetConfig:
        # A Telegram bot may poll (getUpdates) or set its webhook itself: its target.url is optional.
        if self.type in ("webhook", "http", *PLATFORM_TYPES) and self.type != "telegram" and not self.url:
            raise ValueError(f"a {self.type} target needs 'url'")
        if self.type in PLATFORM_TYPES and getattr(self.platform, self.type) is None:
            raise ValueError(f"a {self.type} target needs 'platform.{self.type}'")
        if self.type == "python" and not self.function:
            raise ValueError("a python target needs 'function' (module:function)")
        if self.preset and self.type != "webhook":
            raise ValueError("presets apply to webhook targets")
        return self


class UserConfig(_Strict):
    type: Literal["scripted", "llm", "mixed", "fixed"] = Field(
        default="scripted",
        description="scripted (offline, free), llm, mixed (persona steps, then the LLM), or fixed (scripts)",
    )
    llm: str | None = Field(default=None, description="PROVIDER/MODEL shortcut for a one-provider chain")
    scripts: list[list[str]] = Field(
        default_factory=list, description="fixed: conversation i sends scripts[i % len] message by message"
    )

    @model_validator(mode="after")
    def _check_user(self) -> UserConfig:
        if self.type == "fixed" and not any(self.scripts):
            raise ValueError("a fixed user needs scripts: a list of message lists")
        return self


class PriceConfig(_Strict):
    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(default=None, ge=0)


class ProviderConfig(_Strict):
    name: str = Field(
        description="a preset (openrouter, gemini, openai, ollama, vllm, local) or your own name"
    )
    model: str
    base_url: str | None = Field(default=None, description="required for names that are not presets")
    api_key_env: str | None = Field(default="preset", description="environment variable with the key")
    timeout_s: float = Field(default=60.0, gt=0)
    native_tools: bool | None = Field(default=None, description="default: by model (gemma: no)")
    free: bool | None = None
    price: PriceConfig | None = Field(
        default=None, description="USD per million tokens, over the price table"
    )
    headers: dict[str, str] = Field(default_factory=dict)


class LLMConfig(_Strict):
    providers: list[ProviderConfig] = Field(default_factory=list, description="tried in order")
    retries: int = Field(default=2, ge=0, le=10, description="extra attempts per provider")
    backoff_base_s: float = Field(default=0.5, ge=0)
    backoff_max_s: float = Field(default=8.0, ge=0)
    max_retry_after_s: float = Field(default=30.0, ge=0)
    breaker_failures: int = Field(default=3, ge=1)
    breaker_cooldown_s: float = Field(default=30.0, ge=0)
    user_retries: int = Field(default=3, ge=1, description="whole-chain attempts per simulated-user message")
    temperature: float = Field(default=0.7, ge=0, le=2)
    max_tokens: int = Field(default=300, ge=1)
    prices_file: str | None = None
    cache_path: str | None = Field(default=".convoload/llm-cache.sqlite", description="null: no recording")
    replay: bool = False


class HooksConfig(_Strict):
    enabled: bool = True
    disabled: list[str] = Field(default_factory=list, description="installed hooks to leave out")
    any_domain: list[str] = Field(
        default_factory=list,
        description="installed hooks of one domain to run whatever the run's domain, e.g. property_inquiries",
    )
    thresholds: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="per hook, e.g. slow_responses: {seconds: 3}"
    )
    custom: list[str] = Field(
        default_factory=list, description="more hooks: module:HookClass, module:function, an installed name"
    )


class StoreConfig(_Strict):
    enabled: bool = True
    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the results store; default sqlite:///<runs_dir>/results.sqlite",
    )

    @field_validator("url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value:  # syntax and driver now; a run checks the file again before it starts
            from convoload.store.results.engine import check_store_url

            check_store_url(value)
        return value


class CapacityConfig(_Strict):
    """`convoload capacity`: the concurrency steps, how long each is held, the SLOs each must meet."""

    steps: list[int] | None = Field(
        default=None, description="users of each step, growing (default: start_users doubling to max_users)"
    )
    start_users: int = Field(default=1, ge=1, description="the first step of the doubling series")
    max_users: int = Field(default=32, ge=1, description="the last step of the doubling series")
    step_duration_s: float = Field(default=60.0, gt=0, description="seconds each step is measured")
    warm_up_s: float = Field(default=10.0, ge=0, description="seconds before each step is measured")
    abort_after_s: float = Field(
        default=30.0, gt=0, description="stop once a step has broken an SLO over this many seconds"
    )
    abort: bool = Field(default=True, description="stop after the first step that breaks an SLO")
    slos: list[str] = Field(
        default_factory=lambda: ["goal_rate>=0.85", "p95_turn_s<=8", "error_rate<=0.05"],
        description="METRIC OP NUMBER, e.g. p95_turn_s<=8 (every one must hold over a step)",
    )

    @field_validator("steps")
    @classmethod
    def _steps_grow(cls, value: list[int] | None) -> list[int] | None:
        from convoload.model.capacity import check_steps

        return None if value is None else check_steps(value)

    @field_validator("slos")
    @classmethod
    def _slo_grammar(cls, value: list[str]) -> list[str]:
        from convoload.model.capacity import parse_slo

        for text in value:
            parse_slo(text)  # ValueError: the field's error names it
        return value

    @model_validator(mode="after")
    def _series(self) -> CapacityConfig:
        if self.steps is None:
            from convoload.model.capacity import step_series

            step_series(self.start_users, self.max_users)
        return self


class JudgeConfig(_Strict):
    """The conversation judge: its own model (not the simulated users'), which rubric, how it answers.

    The chain's retries, backoff, circuit breakers, prices and cache file are the `llm` section's.
    """

    enabled: bool = Field(
        default=False,
        description="judge each run's conversations when it ends (`convoload judge RUN` judges in any case)",
    )
    llm: str | None = Field(
        default=None, description="PROVIDER/MODEL of a one-provider chain (default: local/judge, offline)"
    )
    providers: list[ProviderConfig] = Field(default_factory=list, description="tried in order, over `llm`")
    rubric: str | None = Field(
        default=None,
        description="a shipped rubric's name or a YAML file (default: the persona's domain, e.g. tickets)",
    )
    personas: dict[str, str] = Field(
        default_factory=dict, description="persona name -> rubric, over `rubric` for that persona"
    )
    retries: int = Field(default=3, ge=1, le=10, description="whole-chain attempts per judgement")
    invalid_retries: int = Field(
        default=2, ge=0, le=10, description="asks again when the answer does not match the rubric's schema"
    )
    structured_output: Literal["json_schema", "json_object", "prompt"] = Field(
        default="json_schema", description="response_format sent: json_schema, json_object, or none (prompt)"
    )
    temperature: float = Field(default=0.0, ge=0, le=2)
    max_tokens: int = Field(default=1500, ge=100)
    replay: bool = Field(default=True, description="answer from the record/replay cache when recorded")
    concurrency: int = Field(default=4, ge=1, le=256, description="conversations judged at once")

    @field_validator("llm")
    @classmethod
    def _label(cls, value: str | None) -> str | None:
        if value is not None:
            from convoload.llm.providers import spec_from_label

            try:
                spec_from_label(value)
            except ConfigError as exc:
                raise ValueError(exc.message) from None
        return value


class Config(_Strict):
    run: RunSettings = Field(default_factory=RunSettings)
    personas: list[str] | None = Field(default=None, min_length=1, description="default: the demo agent's")
    user: UserConfig = Field(default_factory=UserConfig)
    llm: LLMConfig = Field(default_factory=LLMConfig)
    hooks: HooksConfig = Field(default_factory=HooksConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    goal: GoalConfig = Field(default_factory=GoalConfig)
    target: TargetConfig = Field(default_factory=TargetConfig)
    capacity: CapacityConfig = Field(default_factory=CapacityConfig)
    judge: JudgeConfig = Field(default_factory=JudgeConfig)
    source: str = Field(default="(defaults)", exclude=True)
    base_dir: Path = Field(default_factory=Path.cwd, exclude=True)


def load_config(path: str | Path | None) -> Config:
    """Read and validate a config file; None gives the embedded default (the demo)."""
    if path is None:
        load_env_files()
        return Config()
    path = Path(path)
    data = load_yaml_mapping(path)
    load_env_files(path.parent)
    # Where the file is (for errors and relative paths): set here, whatever the file says.
    data.update(source=str(path), base_dir=path.parent.resolve())
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise pydantic_error_to_config_error(str(path), exc) from None


@dataclass(frozen=True, slots=True)
class Override:
    """A command-line flag's value for one config field (`value` None: the flag was not given)."""

    flag: str  # as the user typed it, e.g. --max-iterations
    field: str  # dotted path in the config, e.g. run.max_iterations
    value: Any


def apply_overrides(config: Config, overrides: Iterable[Override], *, base_dir: Path | None = None) -> Config:
    """The config with the flags' values over it, validated as a whole like the file.

    A flag obeys its field's rules (`--max-iterations 100000` fails as 100000 in the file does) and
    the checks across fields (`--user-mode fixed` needs user.scripts); an error names the flag.
    """
    given = [o for o in overrides if o.value is not None]
    if not given and base_dir is None:
        return config
    data = config.model_dump()
    for override in given:
        *sections, key = override.field.split(".")
        node = data
        for section in sections:
            node = node[section]
        node[key] = override.value
    data.update(source=config.source, base_dir=base_dir or config.base_dir)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise _flag_error(exc, given, config.source) from None


def _flag_error(exc: ValidationError, overrides: list[Override], source: str) -> ConfigError:
    """The first problem, blamed on the flag whose field it is in (or whose section's check failed)."""
    error = pydantic_error_to_config_error(source, exc)
    first = exc.errors()[0]
    loc = tuple(str(part) for part in first.get("loc", ()))

    def closeness(override: Override) -> int:
        path = tuple(override.field.split("."))
        if loc[: len(path)] == path:
            return len(path)  # the flag's own field
        return 0 if path[: len(loc)] == loc else -1  # a check of the section it is in

    culprit = max(overrides, key=closeness, default=None)
    if culprit is None or closeness(culprit) < 0:
        return error
    message = error.message
    if closeness(culprit) > 0 and isinstance(first.get("input"), str | int | float):
        given = repr(first["input"])
        message += f" (got {given if len(given) <= 80 else given[:76] + '...'})"
    return ConfigError(culprit.flag, "", message)


def llm_overrides(
    config: Config, user_mode: str | None, llm: str | None, replay: bool | None
) -> list[Override]:
    """--user-mode, --llm and --replay as overrides (shared by the CLI and the locust plugin)."""
    overrides = [Override("--user-mode", "user.type", user_mode)]
    if llm is not None:
        from convoload.llm.providers import spec_from_label

        spec_from_label(llm, field="--llm")  # fail now on a malformed label
        overrides += [
            Override("--llm", "user.llm", llm),
            Override("--llm", "llm.providers", []),  # --llm replaces the configured chain
        ]
        if user_mode is None and config.user.type == "scripted":
            # Naming a model means: let it play the customers.
            overrides.append(Override("--llm", "user.type", "llm"))
    overrides.append(Override("--replay", "llm.replay", replay))
    return overrides


def apply_llm_flags(config: Config, user_mode: str | None, llm: str | None, replay: bool | None) -> Config:
    """--user-mode, --llm and --replay over the config, validated like the file."""
    return apply_overrides(config, llm_overrides(config, user_mode, llm, replay))


def persona_specs(config: Config) -> list[str]:
    """The configured personas, or the ones made for the bundled system (the demo target's, else the
    default one's)."""
    from convoload.bundled import BUNDLED

    if config.personas is not None:
        return config.personas
    demo = config.target.demo if config.target.type == "demo" else DemoConfig()
    return list(BUNDLED.get(demo.agent).personas)


def aimed_at(config: Config, target: Mapping[str, Any]) -> Config:
    """A new config, validated whole, with these `target` fields (a started bundled system's) over its
    own; `variables` are merged, the config's winning. The rest (receiver, timeouts) stays the config's."""
    data = config.model_dump()
    data["target"] = {**data["target"], **target}
    data["target"]["variables"] = {**target.get("variables", {}), **config.target.variables}
    data.update(source=config.source, base_dir=config.base_dir)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise pydantic_error_to_config_error(config.source, exc) from None


def config_error(config: Config, field: str, message: str) -> ConfigError:
    return ConfigError(config.source, field, message)
