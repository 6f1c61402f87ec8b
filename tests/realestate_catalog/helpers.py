"""The hand-made catalog the tests state their expected ids from, the generated catalog's size and seed, and
the migration check of an old visits table, run on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, MetaData, Table, UniqueConstraint, inspect, select
from sqlalchemy.exc import IntegrityError

from convoload_demo.realestate.catalog.db import complete_listing, create_schema, insert_listings, open_engine
from convoload_demo.realestate.catalog.geo import CITY_BY_NAME
from convoload_demo.realestate.catalog.model import listings, visits

GENERATED_SEED = 7
GENERATED_LISTINGS = 2_000


def listing(
    listing_id: int,
    city: str,
    neighbourhood: str,
    transaction_type: str,
    property_type: str,
    price: int,
    *,
    bedrooms: int,
    bathrooms: int,
    parking: int,
    area: float,
    amenities: tuple[str, ...] = (),
    furnished: bool = False,
    pet_friendly: bool = False,
    created: str = "2025-06-01",
    status: str = "available",
    offset: tuple[float, float] = (0.0, 0.0),
) -> dict[str, Any]:
    nbh = CITY_BY_NAME[city].neighbourhood(neighbourhood)
    return complete_listing(
        id=listing_id,
        title=f"Listing {listing_id}",
        city=city,
        state=CITY_BY_NAME[city].state,
        neighbourhood=neighbourhood,
        transaction_type=transaction_type,
        property_type=property_type,
        price=price,
        bedrooms=bedrooms,
        bathrooms=bathrooms,
        parking_spaces=parking,
        usable_area_m2=area,
        total_area_m2=area * 1.2,
        amenities=list(amenities),
        furnished=furnished,
        pet_friendly=pet_friendly,
        created_at=datetime.fromisoformat(created),
        updated_at=datetime.fromisoformat(created),
        status=status,
        latitude=nbh.latitude + offset[0],
        longitude=nbh.longitude + offset[1],
    )


# Hand-made catalog; the tests state their expected ids by hand from this table.
FIXTURE_LISTINGS = [
    listing(1, "Curitiba", "Água Verde", "sale", "apartment", 600_000, bedrooms=3, bathrooms=2, parking=1,
            area=80, amenities=("pool", "gym"), pet_friendly=True, created="2025-01-10"),
    listing(2, "Curitiba", "Portão", "sale", "apartment", 700_000, bedrooms=3, bathrooms=2, parking=2,
            area=95, amenities=("gym",), created="2025-02-10"),
    listing(3, "Curitiba", "Batel", "sale", "house", 1_500_000, bedrooms=4, bathrooms=3, parking=3,
            area=200, amenities=("pool", "garden", "barbecue"), pet_friendly=True, created="2025-03-10"),
    listing(4, "Curitiba", "Água Verde", "rent", "apartment", 2_500, bedrooms=2, bathrooms=1, parking=1,
            area=60, amenities=("elevator",), furnished=True, pet_friendly=True),
    listing(5, "São Paulo", "Pinheiros", "sale", "studio", 380_000, bedrooms=1, bathrooms=1, parking=0,
            area=28, amenities=("gym", "coworking", "laundry"), furnished=True),
    listing(6, "São Paulo", "Vila Madalena", "sale", "studio", 420_000, bedrooms=1, bathrooms=1, parking=0,
            area=32, amenities=("gym",), pet_friendly=True),
    listing(7, "São Paulo", "Pinheiros", "rent", "apartment", 5_000, bedrooms=2, bathrooms=2, parking=1,
            area=70, amenities=("pool", "gym", "elevator"), furnished=True, pet_friendly=True),
    listing(8, "Rio de Janeiro", "Leblon", "sale", "penthouse", 7_500_000, bedrooms=4, bathrooms=5, parking=2,
            area=300, amenities=("pool", "sauna", "elevator"), pet_friendly=True),
    listing(9, "Rio de Janeiro", "Ipanema", "sale", "penthouse", 12_000_000, bedrooms=5, bathrooms=6,
            parking=4, area=380, amenities=("pool", "gym")),
    listing(10, "Belo Horizonte", "Pampulha", "rent", "studio", 1_500, bedrooms=1, bathrooms=1, parking=0,
            area=30, pet_friendly=True),
    listing(11, "Florianópolis", "Trindade", "rent", "apartment", 4_200, bedrooms=2, bathrooms=1, parking=1,
            area=65, amenities=("balcony",), furnished=True),
    listing(12, "Florianópolis", "Centro", "sale", "apartment", 650_000, bedrooms=2, bathrooms=2, parking=1,
            area=70, amenities=("pool",), status="sold"),
    listing(13, "Curitiba", "Bigorrilho", "sale", "apartment", 600_000, bedrooms=3, bathrooms=2, parking=1,
            area=85, created="2025-04-10"),
    # In the lat/lon bounding box of "1 km around Pinheiros" but 1.24 km away: only haversine drops it.
    listing(14, "São Paulo", "Pinheiros", "sale", "apartment", 900_000, bedrooms=2, bathrooms=1, parking=1,
            area=55, offset=(0.008, 0.0085)),
    listing(15, "Porto Alegre", "Moinhos de Vento", "rent", "house", 8_000, bedrooms=3, bathrooms=2,
            parking=2, area=150, status="reserved"),
]  # fmt: skip


def build_fixture_db(path: Path) -> str:
    url = f"sqlite:///{path}"
    engine = open_engine(url)
    create_schema(engine)
    insert_listings(engine, FIXTURE_LISTINGS)
    engine.dispose()
    return url


def old_visits_table() -> Table:
    """The visits table as created before released visits: one visit per slot, whatever its status."""
    old = MetaData()
    listings.to_metadata(old)  # what its foreign key refers to
    table = visits.to_metadata(old)
    table.indexes.clear()
    table.append_constraint(UniqueConstraint("property_id", "scheduled_at", name="uq_visits_property_slot"))
    return table


def assert_old_visits_table_migrates(url: str) -> None:
    """create_schema over an old visits table: rows kept, and a released slot can be booked again."""
    engine = open_engine(url)
    try:
        create_schema(engine)
        insert_listings(engine, FIXTURE_LISTINGS[:1])
        when = datetime(2030, 1, 7, 10)
        person = {"visitor_name": "Ana", "visitor_phone": "1", "visitor_email": "a@b.c"}
        with engine.begin() as conn:
            visits.drop(conn)
            old_visits_table().create(conn)
            old = {"id": 7, "code": "VIS-OLD777", "status": "released", "created_at": datetime(2030, 1, 1)}
            conn.execute(visits.insert().values(property_id=1, scheduled_at=when, **old, **person))
        assert "uq_visits_property_slot" in _unique_names(engine)
        create_schema(engine)
        assert "uq_visits_property_slot" not in _unique_names(engine)
        new = {"code": "VIS-NEW888", "status": "scheduled", "created_at": datetime(2030, 1, 2)}
        with engine.begin() as conn:
            assert conn.execute(select(visits.c.code).where(visits.c.id == 7)).scalar() == "VIS-OLD777"
            conn.execute(visits.insert().values(property_id=1, scheduled_at=when, **new, **person))
        with pytest.raises(IntegrityError), engine.begin() as conn:  # still one scheduled visit per slot
            again = {**new, "code": "VIS-NEW999"}
            conn.execute(visits.insert().values(property_id=1, scheduled_at=when, **again, **person))
    finally:
        engine.dispose()


def _unique_names(engine: Engine) -> set[str]:
    return {c["name"] for c in inspect(engine).get_unique_constraints("visits")}
