"""Provider specs and presets: OpenRouter, Ollama, Gemini, OpenAI, vLLM, or any base URL."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from convoload.errors import ConfigError


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    name: str
    base_url: str
    model: str
    api_key_env: str | None = None  # None: the endpoint needs no key (local servers)
    timeout_s: float = 60.0
    native_tools: bool = True  # False: tools are described in the prompt and parsed from JSON text
    free: bool = False  # local models cost nothing
    headers: dict[str, str] = field(default_factory=dict)
    price: tuple[float, float, float | None] | None = None  # (input, output, cached input) USD per million

    @property
    def label(self) -> str:
        return f"{self.name}/{self.model}"


# Where each provider lives and which environment variable holds its key.
PRESETS: dict[str, dict] = {
    "openrouter": {"base_url": "https://openrouter.ai/api/v1", "api_key_env": "OPENROUTER_API_KEY"},
    "gemini": {
        "base_url": "https://generativelanguage.googleapis.com/v1beta/openai/",
        "api_key_env": "GEMINI_API_KEY",
    },
    "openai": {"base_url": "https://api.openai.com/v1", "api_key_env": "OPENAI_API_KEY"},
    "ollama": {"base_url": "http://localhost:11434/v1", "api_key_env": None, "free": True},
    "vllm": {"base_url": "http://localhost:8000/v1", "api_key_env": None, "free": True},
    # Served by the bundled system LOCAL_SERVER (see convoload.bundled); its URL is filled in when it starts.
    "local": {"base_url": "", "api_key_env": None, "free": True},
}
# The bundled system (a scriptable OpenAI-compatible server, offline) a run starts for the `local` preset.
LOCAL_SERVER = "llmserver"


def model_has_native_tools(model: str) -> bool:
    # Gemma models served by Ollama and most open-weight gateways have no native tool calling.
    return "gemma" not in model.lower()


def spec_from_label(label: str, *, timeout_s: float = 60.0, field: str = "llm") -> ProviderSpec:
    """A spec from `provider/model`, e.g. `ollama/gemma3n:e2b` or `openrouter/google/gemma-3-27b-it:free`."""
    provider, _, model = label.partition("/")
    if not model:
        raise ConfigError(field, "", f"{label!r} is not PROVIDER/MODEL (e.g. gemini/gemini-2.5-flash)")
    if provider not in PRESETS:
        raise ConfigError(
            field,
            "",
            f"unknown provider {provider!r} (known: {', '.join(PRESETS)}); "
            "configure others under llm.providers with a base_url",
        )
    preset = dict(PRESETS[provider])
    if provider == "vllm":
        preset["base_url"] = os.environ.get("VLLM_BASE_URL", preset["base_url"])
    if provider == "gemini" and not os.environ.get("GEMINI_API_KEY") and os.environ.get("GOOGLE_API_KEY"):
        preset["api_key_env"] = "GOOGLE_API_KEY"  # the variable our users' existing setups use
    return ProviderSpec(
        name=provider, model=model, timeout_s=timeout_s, native_tools=model_has_native_tools(model), **preset
    )
