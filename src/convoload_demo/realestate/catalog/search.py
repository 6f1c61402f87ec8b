"""Property search: validated query parameters and the SQL that answers them.

Every filter is a plain column comparison the covering indexes can serve; the radius filter is an
index-friendly lat/lon bounding box followed by the exact haversine distance on the survivors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator
from sqlalchemy import Connection, bindparam, select, text

from convoload_demo.realestate.catalog.geo import EARTH_RADIUS_KM, bounding_box, fold
from convoload_demo.realestate.catalog.model import LISTING_FIELDS, amenity_mask, listings
from convoload_demo.realestate.vocabulary import (
    AMENITIES,
    PROPERTY_TYPES,
    SORT_ORDERS,
    STATUSES,
    TRANSACTION_TYPES,
)

TransactionType = Literal[TRANSACTION_TYPES]  # type: ignore[valid-type]  # the tuple expands to its members
PropertyType = Literal[PROPERTY_TYPES]  # type: ignore[valid-type]
Status = Literal[STATUSES]  # type: ignore[valid-type]
Amenity = Literal[AMENITIES]  # type: ignore[valid-type]
SortOrder = Literal[SORT_ORDERS]  # type: ignore[valid-type]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]

_MAX_MONEY = 10_000_000_000.0  # bounds keep every value inside the database's integer/float range
_MAX_AREA = 10_000_000.0


class SearchParams(BaseModel):
    """Query parameters of ``GET /api/properties/search``."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    city: Name | None = Field(None, description="City name, case- and accent-insensitive (exact match).")
    neighbourhood: list[Name] = Field(default_factory=list, description="Any of these neighbourhoods.")
    transaction_type: TransactionType | None = None
    property_type: list[PropertyType] = Field(default_factory=list, description="Any of these types.")
    price_min: float | None = Field(None, ge=0, le=_MAX_MONEY, description="BRL; monthly for rent.")
    price_max: float | None = Field(None, ge=0, le=_MAX_MONEY, description="BRL; monthly for rent.")
    bedrooms_min: int | None = Field(None, ge=0, le=100)
    bathrooms_min: int | None = Field(None, ge=0, le=100)
    parking_min: int | None = Field(None, ge=0, le=100)
    area_min: float | None = Field(None, ge=0, le=_MAX_AREA, description="Usable area, m².")
    area_max: float | None = Field(None, ge=0, le=_MAX_AREA, description="Usable area, m².")
    amenities: list[Amenity] = Field(default_factory=list, description="All of these amenities.")
    furnished: bool | None = None
    pet_friendly: bool | None = None
    status: Status = "available"
    near: str | None = Field(None, description="'lat,lon' in decimal degrees; needs radius_km.")
    radius_km: float | None = Field(None, gt=0, le=1000, description="Search radius around 'near'.")
    sort: SortOrder = "price_asc"
    page: int = Field(1, ge=1, le=100_000)
    page_size: int = Field(20, ge=1, le=100)

    @field_validator("near")
    @classmethod
    def _check_near(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parse_near(value)
        return value

    @model_validator(mode="after")
    def _check_pairs(self) -> Self:
        if (self.near is None) != (self.radius_km is None):
            raise ValueError("near and radius_km must be given together")
        for low, high in (("price_min", "price_max"), ("area_min", "area_max")):
            low_value, high_value = getattr(self, low), getattr(self, high)
            if low_value is not None and high_value is not None and low_value > high_value:
                raise ValueError(f"{low} must not be greater than {high}")
        return self


def parse_near(value: str) -> tuple[float, float]:
    """``'lat,lon'`` → ``(lat, lon)``; ``ValueError`` with a message naming ``near`` otherwise."""
    parts = value.split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        lat, lon = float(parts[0]), float(parts[1])
    except ValueError:
        raise ValueError(f"near must be 'lat,lon' in decimal degrees, got {value!r}") from None
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError("near must have latitude in [-90, 90] and longitude in [-180, 180]")
    return lat, lon


@dataclass(frozen=True, slots=True)
class SearchResult:
    total: int
    items: list[dict[str, Any]]


_COLUMNS = [listings.c[name] for name in LISTING_FIELDS]
_ORDER = {
    "price_asc": "price ASC, id ASC",
    "price_desc": "price DESC, id ASC",
    "newest": "created_at DESC, id DESC",
    "area_desc": "usable_area_m2 DESC, id ASC",
}
# Full rows of one page, by id; a Core statement so result types (JSON, datetimes) are processed.
_ROWS_BY_ID = select(*_COLUMNS).where(listings.c.id.in_(bindparam("ids", expanding=True)))


@dataclass
class _Where:
    """A WHERE clause built as SQL text with named parameters.

    Plain text rather than SQLAlchemy expressions: building and cache-keying an expression tree per
    request cost more than running the query. Only portable SQL (including ``&`` and the math functions,
    which SQLite and PostgreSQL both have), and every value is a bound parameter.
    """

    clauses: list[str]
    values: dict[str, Any]

    def add(self, sql: str, **values: Any) -> None:
        self.clauses.append(sql)
        self.values.update(values)

    def any_of(self, column: str, name: str, options: list[str]) -> None:
        keys = {f"{name}{i}": value for i, value in enumerate(options)}
        self.add(f"{column} IN ({', '.join(':' + key for key in keys)})", **keys)

    def sql(self) -> str:
        return " AND ".join(self.clauses)


def where_clause(params: SearchParams) -> tuple[str, dict[str, Any]]:
    """SQL condition (on table ``listings``) and bound values for the filters in ``params``."""
    where = _Where(["status = :status"], {"status": params.status})
    if params.city:
        where.add("city_key = :city", city=fold(params.city))
    if params.neighbourhood:
        where.any_of("neighbourhood_key", "nbh", sorted({fold(n) for n in params.neighbourhood}))
    if params.transaction_type:
        where.add("transaction_type = :tx", tx=params.transaction_type)
    if params.property_type:
        where.any_of("property_type", "ptype", sorted(set(params.property_type)))
    for column, name, op in (
        ("price", "price_min", ">="),
        ("price", "price_max", "<="),
        ("bedrooms", "bedrooms_min", ">="),
        ("bathrooms", "bathrooms_min", ">="),
        ("parking_spaces", "parking_min", ">="),
        ("usable_area_m2", "area_min", ">="),
        ("usable_area_m2", "area_max", "<="),
    ):
        value = getattr(params, name)
        if value is not None:
            where.add(f"{column} {op} :{name}", **{name: value})
    if params.amenities:
        where.add("(amenity_mask & :mask) = :mask", mask=amenity_mask(params.amenities))
    if params.furnished is not None:
        where.add("furnished = :furnished", furnished=params.furnished)
    if params.pet_friendly is not None:
        where.add("pet_friendly = :pet_friendly", pet_friendly=params.pet_friendly)
    if params.near is not None and params.radius_km is not None:
        lat, lon = parse_near(params.near)
        lat_min, lat_max, lon_min, lon_max = bounding_box(lat, lon, params.radius_km)
        where.add("latitude BETWEEN :lat_min AND :lat_max", lat_min=lat_min, lat_max=lat_max)
        if lon_min >= -180 and lon_max <= 180:  # a box crossing the antimeridian: haversine alone
            where.add("longitude BETWEEN :lon_min AND :lon_max", lon_min=lon_min, lon_max=lon_max)
        # Haversine; the bounding box above lets an index find the few candidates it runs on.
        haversine = (
            "2 * :earth_km * asin(sqrt("
            "sin(radians(latitude - :lat) / 2) * sin(radians(latitude - :lat) / 2)"
            " + :cos_lat * cos(radians(latitude))"
            " * sin(radians(longitude - :lon) / 2) * sin(radians(longitude - :lon) / 2)))"
        )
        where.add(
            f"{haversine} <= :radius_km",
            earth_km=EARTH_RADIUS_KM,
            lat=lat,
            lon=lon,
            cos_lat=math.cos(math.radians(lat)),
            radius_km=params.radius_km,
        )
    return where.sql(), where.values


def listing_json(row: Any) -> dict[str, Any]:
    """A listing row as its JSON object (timestamps as UTC ISO strings)."""
    item = dict(row._mapping)
    for key in ("created_at", "updated_at"):
        value = item[key]
        if isinstance(value, datetime):
            item[key] = value.replace(microsecond=0).isoformat() + "Z"
    return item


def search(conn: Connection, params: SearchParams) -> SearchResult:
    """Total number of matches and the requested page of them.

    Two steps: the count and the page's ids come from the covering search index alone; only the page's
    rows (at most 100) are then read from the table.
    """
    where, values = where_clause(params)
    total = conn.execute(text(f"SELECT count(*) FROM listings WHERE {where}"), values).scalar_one()
    offset = (params.page - 1) * params.page_size
    if offset >= total:
        return SearchResult(total=int(total), items=[])
    page_sql = (
        f"SELECT id FROM listings WHERE {where} ORDER BY {_ORDER[params.sort]} LIMIT :limit OFFSET :offset"
    )
    page_values = {**values, "limit": params.page_size, "offset": offset}
    ids = list(conn.execute(text(page_sql), page_values).scalars())
    rows = {row.id: row for row in conn.execute(_ROWS_BY_ID, {"ids": ids})}
    return SearchResult(total=int(total), items=[listing_json(rows[i]) for i in ids])


def get_listing(conn: Connection, listing_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(*_COLUMNS).where(listings.c.id == listing_id)).first()
    return listing_json(row) if row is not None else None
