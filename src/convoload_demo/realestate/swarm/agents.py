"""The four agents of the real-estate swarm and which tools (and handoffs) each one gets."""

from __future__ import annotations

from dataclasses import dataclass

from convoload_demo.realestate.swarm.tools import AgentTool, CatalogLike, catalog_tools, handoff_tool

TRIAGEM, BUSCA, IMOVEL, AGENDAMENTO = "triagem", "busca", "imovel", "agendamento"
FIRST_AGENT = TRIAGEM


@dataclass(frozen=True, slots=True)
class Agent:
    name: str
    instructions: str
    tools: tuple[AgentTool, ...] = ()

    def tool(self, name: str) -> AgentTool | None:
        return next((t for t in self.tools if t.name == name), None)


_COMMON = (
    "You work for a Brazilian real-estate agency. Answer in the customer's language (Portuguese or "
    "English), briefly. Prices are in BRL (R$). Never invent listings: use the tools."
)

_INSTRUCTIONS = {
    TRIAGEM: "You greet the customer and find out whether they want to buy or rent and in which city. "
    "As soon as they give any search criteria, call transfer_to_busca.",
    BUSCA: "You collect search criteria (buy or rent, city, budget, bedrooms, neighbourhoods, amenities) "
    "and call search_properties (sort price_asc, page_size 5). List up to 3 results as numbered lines "
    "with title, price, bedrooms, neighbourhood and code (#id). When the customer picks one, call "
    "transfer_to_imovel.",
    IMOVEL: "You describe the chosen listing (call get_property) and answer questions about it "
    "(condo fee, IPTU, area, parking, suites, pets, address). End by asking whether they want to "
    "schedule a visit; if they do, call transfer_to_agendamento. For a new search, transfer_to_busca.",
    AGENDAMENTO: "You book visits: Monday to Saturday, 9am to 6pm, 1-hour slots on the hour. Use "
    "check_availability, offer up to 3 free slots when the wanted one is not free, collect full name, "
    "phone and e-mail, then call book_visit and give the visit code.",
}

_HANDOFFS = {
    TRIAGEM: (BUSCA, IMOVEL, AGENDAMENTO),
    BUSCA: (IMOVEL, TRIAGEM),
    IMOVEL: (AGENDAMENTO, BUSCA),
    AGENDAMENTO: (IMOVEL, BUSCA),
}
_PURPOSE = {
    TRIAGEM: "greeting and triage",
    BUSCA: "searching listings",
    IMOVEL: "details of one listing",
    AGENDAMENTO: "scheduling a visit",
}
_CATALOG_TOOLS = {
    TRIAGEM: (),
    BUSCA: ("search_properties", "get_property"),
    IMOVEL: ("get_property",),
    AGENDAMENTO: ("check_availability", "book_visit", "get_property"),
}


def build_agents(catalog: CatalogLike) -> dict[str, Agent]:
    """The agents keyed by name, their catalog tools bound to `catalog`."""
    tools = catalog_tools(catalog)
    agents = {}
    for name, instructions in _INSTRUCTIONS.items():
        own = [tools[t] for t in _CATALOG_TOOLS[name]]
        handoffs = [handoff_tool(target, _PURPOSE[target]) for target in _HANDOFFS[name]]
        agents[name] = Agent(name, f"{_COMMON}\n\n{instructions}", (*own, *handoffs))
    return agents
