"""Build the swarm (catalog client + brain) from the assistant's settings."""

from __future__ import annotations

from dataclasses import replace

from convoload.llm.chain import ProviderChain
from convoload.llm.client import ProviderClient
from convoload.llm.cost import shipped_prices
from convoload.llm.providers import spec_from_label
from convoload_demo.realestate.assistant.settings import AssistantSettings
from convoload_demo.realestate.catalog.client import CatalogClient
from convoload_demo.realestate.swarm import LLMBrain, RuleBasedBrain, SwarmOrchestrator
from convoload_demo.realestate.swarm.brain import Brain


def build_brain(settings: AssistantSettings) -> Brain:
    if settings.brain == "rules":
        return RuleBasedBrain()
    if not settings.llm:
        raise ValueError("--brain llm needs at least one --llm PROVIDER/MODEL")
    specs = [spec_from_label(label, field="--llm") for label in settings.llm]
    if settings.local_llm_url:
        specs = [replace(s, base_url=settings.local_llm_url) if s.name == "local" else s for s in specs]
    missing = [s.label for s in specs if not s.base_url]
    if missing:
        raise ValueError(f"{', '.join(missing)}: the 'local' provider needs --local-llm-url")
    prices = shipped_prices()
    return LLMBrain(ProviderChain([ProviderClient(spec, prices) for spec in specs]))


def build_orchestrator(settings: AssistantSettings) -> SwarmOrchestrator:
    catalog = CatalogClient(settings.catalog_url, timeout_s=settings.catalog_timeout_s)
    return SwarmOrchestrator(catalog, build_brain(settings), max_steps_per_turn=settings.max_steps_per_turn)
