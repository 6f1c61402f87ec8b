"""The catalog tools the agents can call, with the JSON schemas the LLM sees.

Each tool returns a JSON-ready dict; errors are raised as exceptions and turned into error results by
the orchestrator, so a model (or the rule brain) can read what went wrong and try again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from convoload.llm.tools import Tool
from convoload_demo.realestate.vocabulary import AMENITIES, PROPERTY_TYPES

# Listing fields worth showing a model after a search; the full record comes from get_property.
SEARCH_FIELDS = (
    "id",
    "title",
    "transaction_type",
    "property_type",
    "price",
    "condo_fee",
    "bedrooms",
    "suites",
    "bathrooms",
    "parking_spaces",
    "usable_area_m2",
    "neighbourhood",
    "city",
    "furnished",
    "pet_friendly",
    "amenities",
)


class CatalogLike(Protocol):
    """What the swarm needs from `convoload_demo.realestate.catalog.client.CatalogClient`."""

    def search(self, **params: Any) -> dict[str, Any]: ...

    def get_property(self, property_id: Any) -> dict[str, Any]: ...

    def availability(self, property_id: Any, date: str) -> dict[str, Any]: ...

    def book_visit(
        self,
        property_id: Any,
        scheduled_at: str,
        visitor_name: str,
        visitor_phone: str,
        visitor_email: str,
    ) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class AgentTool:
    """A callable plus the description a model needs; `handoff_to` marks a `transfer_to_<agent>` tool."""

    name: str
    description: str
    parameters: dict[str, Any]
    function: Callable[..., dict[str, Any]] | None = None
    handoff_to: str | None = None

    def spec(self) -> Tool:
        return Tool(self.name, self.description, self.parameters)

    @property
    def required(self) -> list[str]:
        return list(self.parameters.get("required", []))


def flatten_listing(listing: dict[str, Any]) -> dict[str, Any]:
    """The listing with address fields at the top level, whether or not the API nests them."""
    address = listing.get("address")
    if isinstance(address, dict):
        return {**address, **{k: v for k, v in listing.items() if k != "address"}}
    return dict(listing)


def _obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required or []}


_STR = {"type": "string"}
_NUM = {"type": "number"}
_INT = {"type": "integer"}
_ID = {"type": "integer", "description": "The listing id (the number after 'código #')."}

SEARCH_SCHEMA = _obj(
    {
        "transaction_type": {"type": "string", "enum": ["sale", "rent"]},
        "city": {**_STR, "description": "e.g. São Paulo, Rio de Janeiro, Belo Horizonte, Curitiba"},
        "neighbourhood": {"type": "array", "items": _STR},
        "property_type": {"type": "array", "items": {"type": "string", "enum": list(PROPERTY_TYPES)}},
        "price_min": _NUM,
        "price_max": {**_NUM, "description": "BRL; monthly rent for rentals"},
        "bedrooms_min": _INT,
        "bathrooms_min": _INT,
        "parking_min": _INT,
        "area_min": _NUM,
        "area_max": _NUM,
        "amenities": {"type": "array", "items": {"type": "string", "enum": list(AMENITIES)}},
        "furnished": {"type": "boolean"},
        "pet_friendly": {"type": "boolean"},
        "near": {**_STR, "description": "'lat,lon'"},
        "radius_km": _NUM,
        "sort": {"type": "string", "enum": ["price_asc", "price_desc", "newest", "area_desc"]},
        "page": _INT,
        "page_size": _INT,
    }
)


def catalog_tools(catalog: CatalogLike) -> dict[str, AgentTool]:
    """The four catalog tools bound to one catalog client."""

    def search_properties(**params: Any) -> dict[str, Any]:
        unknown = set(params) - set(SEARCH_SCHEMA["properties"])
        if unknown:
            raise ValueError(f"unknown search parameters: {', '.join(sorted(unknown))}")
        query = {k: v for k, v in params.items() if v not in (None, "", [])}
        query.setdefault("sort", "price_asc")
        query.setdefault("page_size", 5)
        page = catalog.search(**query)
        items = [flatten_listing(item) for item in page.get("items", [])]
        slim = [{k: item.get(k) for k in SEARCH_FIELDS} for item in items]
        return {"total": page.get("total", len(slim)), "items": slim}

    def get_property(property_id: int) -> dict[str, Any]:
        return flatten_listing(catalog.get_property(property_id))

    def check_availability(property_id: int, date: str) -> dict[str, Any]:
        return catalog.availability(property_id, date)

    def book_visit(
        property_id: int, scheduled_at: str, visitor_name: str, visitor_phone: str, visitor_email: str
    ) -> dict[str, Any]:
        return catalog.book_visit(
            property_id,
            scheduled_at,
            visitor_name=visitor_name,
            visitor_phone=visitor_phone,
            visitor_email=visitor_email,
        )

    tools = [
        AgentTool(
            "search_properties",
            "Search listings. Returns the total and up to page_size listings (cheapest first by default).",
            SEARCH_SCHEMA,
            search_properties,
        ),
        AgentTool(
            "get_property",
            "All details of one listing: price, condo fee, IPTU, area, rooms, amenities, address.",
            _obj({"property_id": _ID}, ["property_id"]),
            get_property,
        ),
        AgentTool(
            "check_availability",
            "Free 1-hour visit slots of a listing on a date (Mon-Sat, 09:00-17:00 starts).",
            _obj(
                {"property_id": _ID, "date": {**_STR, "description": "YYYY-MM-DD"}}, ["property_id", "date"]
            ),
            check_availability,
        ),
        AgentTool(
            "book_visit",
            "Book a visit. Fails with the free alternatives when the slot is taken.",
            _obj(
                {
                    "property_id": _ID,
                    "scheduled_at": {**_STR, "description": "YYYY-MM-DDTHH:MM, on the hour"},
                    "visitor_name": _STR,
                    "visitor_phone": _STR,
                    "visitor_email": _STR,
                },
                ["property_id", "scheduled_at", "visitor_name", "visitor_phone", "visitor_email"],
            ),
            book_visit,
        ),
    ]
    return {tool.name: tool for tool in tools}


def handoff_tool(agent: str, purpose: str) -> AgentTool:
    return AgentTool(
        f"transfer_to_{agent}",
        f"Hand the conversation over to the '{agent}' agent ({purpose}).",
        _obj({}),
        handoff_to=agent,
    )


def summarize(tool: str, result: dict[str, Any]) -> str:
    """One line for ToolResult events and logs."""
    if tool == "search_properties":
        return f"{len(result.get('items', []))} of {result.get('total', 0)} listings"
    if tool == "get_property":
        return f"listing #{result.get('id')}: {result.get('title', '')}"
    if tool == "check_availability":
        state = "open" if result.get("open") else "closed"
        return f"{result.get('date')}: {state}, {len(result.get('slots', []))} free slots"
    if tool == "book_visit":
        return f"visit {result.get('code')} at {result.get('scheduled_at')}"
    return "ok"
