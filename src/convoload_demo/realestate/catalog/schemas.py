"""Response and request bodies of the catalog API (they also document the OpenAPI spec)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from convoload_demo.realestate.catalog.search import Amenity, PropertyType, Status, TransactionType


class Listing(BaseModel):
    id: int
    title: str
    description: str
    transaction_type: TransactionType
    property_type: PropertyType
    status: Status
    price: int = Field(description="BRL; monthly rent for rentals.")
    condo_fee: int = Field(description="Monthly condominium fee, BRL.")
    iptu_yearly: int = Field(description="Yearly property tax, BRL.")
    bedrooms: int
    suites: int
    bathrooms: int
    parking_spaces: int
    usable_area_m2: float
    total_area_m2: float
    furnished: bool
    pet_friendly: bool
    amenities: list[Amenity]
    street: str
    number: str
    neighbourhood: str
    city: str
    state: str
    cep: str
    latitude: float
    longitude: float
    year_built: int | None
    created_at: str = Field(description="UTC, ISO 8601.")
    updated_at: str = Field(description="UTC, ISO 8601.")


class SearchPage(BaseModel):
    total: int = Field(description="Number of listings matching the filters (all pages).")
    page: int
    page_size: int
    items: list[Listing]


class Health(BaseModel):
    status: str
    listings: int


class Availability(BaseModel):
    property_id: int
    date: str
    open: bool = Field(description="False on Sundays.")
    slots: list[str] = Field(description="Free one-hour visit start times, HH:MM, local time.")


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class VisitIn(BaseModel):
    property_id: int = Field(ge=1, le=2_147_483_647)
    scheduled_at: str = Field(
        pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$",
        description="Local time in America/Sao_Paulo, YYYY-MM-DDTHH:MM, on the hour.",
        examples=["2030-01-07T10:00"],
    )
    visitor_name: Text
    visitor_phone: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[\d ()\-]{8,30}$")]
    visitor_email: Annotated[
        str, StringConstraints(strip_whitespace=True, max_length=200, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    ]


class Visit(BaseModel):
    id: int
    code: str = Field(description="VIS- followed by 6 characters.")
    property_id: int
    scheduled_at: str
    visitor_name: str
    visitor_phone: str
    visitor_email: str
    status: str
    created_at: str


class ErrorMessage(BaseModel):
    detail: str


class Conflict(BaseModel):
    detail: str
    alternatives: list[str] = Field(description="Up to 3 free slots, YYYY-MM-DDTHH:MM.")
