"""Vocabulary and database schema of the catalog (SQLAlchemy Core tables, portable across databases).

Search-only columns: ``city_key``/``neighbourhood_key`` hold case- and accent-folded names so the
composite indexes serve case/accent-insensitive filters, and ``amenity_mask`` is a bitmask of
``amenities`` so "has all of these amenities" is a cheap residual filter on rows the other indexes found.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from convoload_demo.realestate.vocabulary import AMENITIES

AMENITY_BITS = {name: 1 << index for index, name in enumerate(AMENITIES)}

LISTING_FIELDS = (
    "id",
    "title",
    "description",
    "transaction_type",
    "property_type",
    "status",
    "price",
    "condo_fee",
    "iptu_yearly",
    "bedrooms",
    "suites",
    "bathrooms",
    "parking_spaces",
    "usable_area_m2",
    "total_area_m2",
    "furnished",
    "pet_friendly",
    "amenities",
    "street",
    "number",
    "neighbourhood",
    "city",
    "state",
    "cep",
    "latitude",
    "longitude",
    "year_built",
    "created_at",
    "updated_at",
)


def amenity_mask(amenities: list[str] | tuple[str, ...]) -> int:
    """Bitmask of the amenities; unknown names raise ``KeyError``."""
    mask = 0
    for name in amenities:
        mask |= AMENITY_BITS[name]
    return mask


# Every column a search filters or sorts on. Each search index leads with its own equality/range columns
# and then carries the rest, so counting matches and picking a page never read the wide table rows.
FILTER_COLUMNS = (
    "city_key",
    "transaction_type",
    "property_type",
    "status",
    "price",
    "bedrooms",
    "bathrooms",
    "parking_spaces",
    "usable_area_m2",
    "amenity_mask",
    "furnished",
    "pet_friendly",
    "neighbourhood_key",
    "latitude",
    "longitude",
    "created_at",
)


def covering_index(name: str, *leading: str) -> Index:
    return Index(name, *leading, *(column for column in FILTER_COLUMNS if column not in leading))


metadata = MetaData()

listings = Table(
    "listings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("transaction_type", String(8), nullable=False),
    Column("property_type", String(16), nullable=False),
    Column("status", String(12), nullable=False),
    Column("price", Integer, nullable=False),
    Column("condo_fee", Integer, nullable=False),
    Column("iptu_yearly", Integer, nullable=False),
    Column("bedrooms", Integer, nullable=False),
    Column("suites", Integer, nullable=False),
    Column("bathrooms", Integer, nullable=False),
    Column("parking_spaces", Integer, nullable=False),
    Column("usable_area_m2", Float, nullable=False),
    Column("total_area_m2", Float, nullable=False),
    Column("furnished", Boolean, nullable=False),
    Column("pet_friendly", Boolean, nullable=False),
    Column("amenities", JSON, nullable=False),
    Column("amenity_mask", Integer, nullable=False),
    Column("street", String(120), nullable=False),
    Column("number", String(12), nullable=False),
    Column("neighbourhood", String(80), nullable=False),
    Column("neighbourhood_key", String(80), nullable=False),
    Column("city", String(80), nullable=False),
    Column("city_key", String(80), nullable=False),
    Column("state", String(2), nullable=False),
    Column("cep", String(9), nullable=False),
    Column("latitude", Float, nullable=False),
    Column("longitude", Float, nullable=False),
    Column("year_built", Integer, nullable=True),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    covering_index("ix_listings_search", "city_key", "transaction_type", "property_type", "status", "price"),
    covering_index("ix_listings_nbh", "city_key", "neighbourhood_key", "transaction_type", "status", "price"),
    covering_index("ix_listings_type", "transaction_type", "property_type", "status", "price"),
    covering_index("ix_listings_lat_lon", "latitude", "longitude"),
    Index("ix_listings_created_at", "created_at"),
)

visits = Table(
    "visits",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code", String(10), nullable=False, unique=True),
    Column("property_id", Integer, ForeignKey("listings.id"), nullable=False),
    Column("scheduled_at", DateTime, nullable=False),  # naive local time, America/Sao_Paulo
    Column("visitor_name", String(200), nullable=False),
    Column("visitor_phone", String(40), nullable=False),
    Column("visitor_email", String(200), nullable=False),
    Column("status", String(12), nullable=False),  # scheduled | released (a sandbox gave its slot back)
    Column("created_at", DateTime, nullable=False),  # UTC
)
# One scheduled visit per property per slot; the database enforces it, so two racing bookings cannot both
# win. Partial, so a released visit keeps its record without holding the slot.
_SCHEDULED = visits.c.status == "scheduled"
Index(
    "uq_visits_scheduled_slot",
    visits.c.property_id,
    visits.c.scheduled_at,
    unique=True,
    sqlite_where=_SCHEDULED,
    postgresql_where=_SCHEDULED,
)
Index("ix_visits_status_created", visits.c.status, visits.c.created_at)  # what a release looks for
