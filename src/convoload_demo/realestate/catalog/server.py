"""FastAPI app of the property catalog: search, listing details, visit availability and booking."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Annotated, Any, NoReturn

from fastapi import FastAPI, HTTPException, Path, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine, select

from convoload_demo.realestate.catalog.db import (
    count_listings,
    default_database_url,
    open_engine,
    seed_catalog,
)
from convoload_demo.realestate.catalog.model import listings
from convoload_demo.realestate.catalog.schemas import (
    Availability,
    Conflict,
    ErrorMessage,
    Health,
    Listing,
    SearchPage,
    Visit,
    VisitIn,
)
from convoload_demo.realestate.catalog.search import SearchParams, get_listing, search
from convoload_demo.realestate.catalog.settings import CatalogSettings
from convoload_demo.realestate.catalog.visits import (
    SLOT_FORMAT,
    Clock,
    SlotRelease,
    SlotTaken,
    VisitRequest,
    alternatives,
    book,
    free_slots,
    get_visit,
    is_open_day,
    local_now,
    slot_problem,
)

PropertyId = Annotated[int, Path(ge=1, le=2_147_483_647, description="Listing id.")]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorMessage, "description": "Not found"}}


def _unprocessable(loc: tuple[str, ...], msg: str, value: Any) -> NoReturn:
    """A 422 in FastAPI's own validation-error shape, so clients parse every 422 the same way."""
    raise RequestValidationError([{"type": "value_error", "loc": loc, "msg": msg, "input": value}])


def create_app(
    settings: CatalogSettings | None = None, *, engine: Engine | None = None, clock: Clock = local_now
) -> FastAPI:
    """The catalog app; without ``engine`` it opens ``settings.database_url`` and seeds it if empty."""
    settings = settings or CatalogSettings()
    if engine is None:
        engine = open_engine(settings.database_url or default_database_url())
        seed_catalog(engine, settings.listings, settings.seed)
    db = engine
    listing_count = count_listings(db)  # listings are read-only at runtime
    after_s = settings.release_visits_after_s
    release = SlotRelease(db, after_s) if after_s is not None else lambda: 0

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.ready_url:
            print(f"READY {settings.ready_url}", flush=True)
        yield
        db.dispose()

    app = FastAPI(
        title="convoload demo property catalog",
        description="Brazilian real-estate listings: search, details, visit availability and booking.",
        version="1.0.0",
        lifespan=lifespan,
    )

    def _listing_or_404(conn: Any, property_id: int) -> dict[str, Any]:
        listing = get_listing(conn, property_id)
        if listing is None:
            raise HTTPException(404, detail=f"property {property_id} not found")
        return listing

    @app.get("/health", response_model=Health)
    def health() -> dict[str, Any]:
        return {"status": "ok", "listings": listing_count}

    @app.get("/api/properties/search", response_model=SearchPage)
    def search_properties(params: Annotated[SearchParams, Query()]) -> Response:
        with db.connect() as conn:
            result = search(conn, params)
        page = {
            "total": result.total,
            "page": params.page,
            "page_size": params.page_size,
            "items": result.items,
        }
        # Serialized here: the rows are already JSON-ready, and re-validating them through the response
        # model would cost more than the query (the model still documents the shape in the OpenAPI spec).
        return Response(json.dumps(page, ensure_ascii=False).encode(), media_type="application/json")

    @app.get("/api/properties/{property_id}", response_model=Listing, responses=_NOT_FOUND)
    def get_property(property_id: PropertyId) -> dict[str, Any]:
        with db.connect() as conn:
            return _listing_or_404(conn, property_id)

    @app.get("/api/properties/{property_id}/availability", response_model=Availability, responses=_NOT_FOUND)
    def availability(
        property_id: PropertyId, day: Annotated[date, Query(alias="date", description="YYYY-MM-DD")]
    ) -> dict[str, Any]:
        release()
        with db.connect() as conn:
            listing = _listing_or_404(conn, property_id)
            bookable = listing["status"] == "available"  # reserved/sold/rented listings take no visits
            slots = free_slots(conn, property_id, day, clock()) if bookable else []
        return {
            "property_id": property_id,
            "date": day.isoformat(),
            "open": is_open_day(day),
            "slots": [slot.strftime("%H:%M") for slot in slots],
        }

    @app.post(
        "/api/visits",
        status_code=201,
        response_model=Visit,
        responses={**_NOT_FOUND, 409: {"model": Conflict, "description": "Slot already booked"}},
    )
    def create_visit(body: VisitIn) -> Any:
        loc = ("body", "scheduled_at")
        try:
            when = datetime.strptime(body.scheduled_at, SLOT_FORMAT)
        except ValueError:
            _unprocessable(loc, "scheduled_at is not a valid date and time", body.scheduled_at)
        with db.connect() as conn:
            status = conn.execute(select(listings.c.status).where(listings.c.id == body.property_id)).scalar()
        if status is None:
            raise HTTPException(404, detail=f"property {body.property_id} not found")
        now = clock()
        problem = slot_problem(when, now)
        if problem:
            _unprocessable(loc, f"scheduled_at: {problem}", body.scheduled_at)
        if status != "available":
            _unprocessable(
                ("body", "property_id"),
                f"property {body.property_id} is {status}, not available for visits",
                body.property_id,
            )
        release()
        request = VisitRequest(
            body.property_id, when, body.visitor_name, body.visitor_phone, body.visitor_email
        )
        try:
            return book(db, request)
        except SlotTaken:
            with db.connect() as conn:
                options = alternatives(conn, body.property_id, when, now)
            detail = f"property {body.property_id} already has a visit at {body.scheduled_at}"
            return JSONResponse(status_code=409, content={"detail": detail, "alternatives": options})

    @app.get("/api/visits/{visit_id}", response_model=Visit, responses=_NOT_FOUND)
    def read_visit(visit_id: Annotated[int, Path(ge=1, le=2_147_483_647)]) -> dict[str, Any]:
        with db.connect() as conn:
            visit = get_visit(conn, visit_id)
        if visit is None:
            raise HTTPException(404, detail=f"visit {visit_id} not found")
        return visit

    return app
