"""The demo pack's bundled systems, registered under `convoload.bundled` (see pyproject.toml).

- `tickets`: the ticket-booking agent of a nature park; it answers through webhook callbacks.
- `realestate`: a property catalog API and a multi-agent real-estate assistant behind /api/chat.
- `llmserver`: not an agent, the scriptable OpenAI-compatible server behind the `local` LLM provider.

This module stays light (settings only): the servers are imported when a system starts.
"""

from __future__ import annotations

import os
from importlib.resources import files
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from convoload.bundled import BundledSystem, Launch, StartedSystem, chat_target

PERSONAS = files("convoload_demo") / "personas"
# The widget preset's channel id the ticket agent is reached through.
CHANNEL_ID = "convoload-demo"


class TicketsOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reply_delay_s: float = Field(default=0.3, ge=0, description="reply delay")
    jitter_s: float = Field(default=0.2, ge=0, description="random extra delay")
    split_messages: bool = Field(default=False, description="one callback per message")
    max_concurrent_turns: int | None = Field(
        default=None, ge=1, description="turns served at once, the rest queue (a known capacity)"
    )


class Tickets(BundledSystem):
    options = TicketsOptions
    description = "ticket seller of a nature park, answering through webhook callbacks"
    personas = ("kataryna", "talliz", "edman")
    persona_folder = PERSONAS
    playbook = "tickets"
    domains = ("tickets",)
    callbacks = True

    def start(self, options: TicketsOptions, launch: Launch) -> StartedSystem:
        from convoload_demo.tickets.launcher import DemoTicketServer
        from convoload_demo.tickets.settings import TicketServerSettings

        settings = TicketServerSettings(
            reply_delay_s=options.reply_delay_s,
            jitter_s=options.jitter_s,
            split_messages=options.split_messages,
            seed=launch.seed,
            **_limit(options.max_concurrent_turns),
            signature=launch.signature,  # signs its callbacks as the run's receiver expects
        )
        server = launch.resources.enter_context(DemoTicketServer(settings))
        return StartedSystem(
            name="tickets",
            url=server.url,
            target={
                "type": "webhook",
                "url": server.widget_url,
                "preset": "widget",
                "variables": {"channel_id": CHANNEL_ID},
            },
            components={"agent": server.url},
            health={"agent": server.health_url},
            chat_url=None,  # its /v1/chat speaks {session_id, text}, not the chat API of chat_target
        )


class RealEstateOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    listings: int = Field(default=10_000, ge=100, description="catalog size")
    brain: Literal["auto", "rules", "llm"] = Field(
        default="auto", description="auto = LLM chain when OPENROUTER_API_KEY is set, else rules"
    )
    max_concurrent_turns: int | None = Field(
        default=None, ge=1, description="turns the assistant serves at once, the rest queue"
    )


class RealEstate(BundledSystem):
    options = RealEstateOptions
    description = "property catalog API + multi-agent real-estate assistant (triage, search, property, visit)"
    personas = ("renata", "ricardo", "julia", "helena", "marcus")
    persona_folder = PERSONAS
    goal = r"visita agendada|visit booked"
    playbook = "realestate"
    domains = ("realestate",)

    def start(self, options: RealEstateOptions, launch: Launch) -> StartedSystem:
        from convoload_demo.realestate.assistant.launcher import AssistantServer
        from convoload_demo.realestate.assistant.settings import DEFAULT_LLM_CHAIN, AssistantSettings
        from convoload_demo.realestate.catalog.launcher import CatalogServer
        from convoload_demo.realestate.catalog.settings import SANDBOX_RELEASE_S, CatalogSettings

        catalog = launch.resources.enter_context(
            CatalogServer(
                CatalogSettings(listings=options.listings, release_visits_after_s=SANDBOX_RELEASE_S)
            )
        )
        brain = options.brain
        if brain == "auto":  # the one place this choice is made
            brain = "llm" if os.environ.get("OPENROUTER_API_KEY") else "rules"
        llm = DEFAULT_LLM_CHAIN if brain == "llm" else ()
        assistant = launch.resources.enter_context(
            AssistantServer(
                AssistantSettings(
                    catalog_url=catalog.url, brain=brain, llm=llm, **_limit(options.max_concurrent_turns)
                )
            )
        )
        return StartedSystem(
            name="realestate",
            url=assistant.url,
            target=chat_target(assistant.chat_url),
            components={"catalog": catalog.url, "assistant": assistant.url, "brain": brain},
            health={"agent": assistant.health_url, "catalog": catalog.health_url},
            llm=llm,
            chat_url=assistant.chat_url,
            catalog_url=catalog.url,
        )


def _limit(max_concurrent_turns: int | None) -> dict[str, int]:
    """The option when given; otherwise the server's own default (its environment variable) stands,
    checked here so that a bad value is one line before anything starts."""
    if max_concurrent_turns is None:
        from convoload.errors import InputError
        from convoload_demo.turnlimit import limit_from_env

        try:
            limit_from_env()
        except ValueError as exc:
            raise InputError(str(exc)) from None
        return {}
    return {"max_concurrent_turns": max_concurrent_turns}


class LocalLLMOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LocalLLM(BundledSystem):
    options = LocalLLMOptions
    description = "scriptable OpenAI-compatible server behind the `local` LLM provider (offline)"
    agent = False

    def start(self, options: LocalLLMOptions, launch: Launch) -> StartedSystem:
        from convoload_demo.llmserver.launcher import LocalLLMServer

        server = launch.resources.enter_context(LocalLLMServer())
        # url: what an OpenAI client takes as base_url
        return StartedSystem(
            name="llmserver", url=server.base_url, target={}, health={"agent": server.health_url}
        )


TICKETS = Tickets()
REALESTATE = RealEstate()
LLMSERVER = LocalLLM()
