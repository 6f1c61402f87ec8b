"""An in-memory stand-in for the catalog client, for tests that are about the swarm, not the catalog."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any


class FakeCatalogError(Exception):
    def __init__(self, status: int, detail: str, body: dict[str, Any]) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status, self.detail, self.body = status, detail, body


LISTINGS = [
    {
        "id": 11,
        "title": "Apartamento com 3 quartos à venda — Água Verde, Curitiba",
        "transaction_type": "sale",
        "property_type": "apartment",
        "price": 600_000,
        "condo_fee": 800,
        "iptu_yearly": 2_400,
        "bedrooms": 3,
        "suites": 1,
        "bathrooms": 2,
        "parking_spaces": 1,
        "usable_area_m2": 80.0,
        "total_area_m2": 95.0,
        "furnished": False,
        "pet_friendly": True,
        "amenities": ["pool", "gym"],
        # Nested address, as some catalog versions send it.
        "address": {
            "street": "Rua Chile",
            "number": "100",
            "neighbourhood": "Água Verde",
            "city": "Curitiba",
            "cep": "80240-000",
        },
        "year_built": 2012,
    },
    {
        "id": 12,
        "title": "Apartamento com 3 quartos à venda — Portão, Curitiba",
        "transaction_type": "sale",
        "property_type": "apartment",
        "price": 640_000,
        "condo_fee": 650,
        "iptu_yearly": 1_900,
        "bedrooms": 3,
        "suites": 0,
        "bathrooms": 1,
        "parking_spaces": 2,
        "usable_area_m2": 75.5,
        "total_area_m2": 90.0,
        "furnished": False,
        "pet_friendly": False,
        "amenities": [],
        "street": "Rua João Bettega",
        "number": "9",
        "neighbourhood": "Portão",
        "city": "Curitiba",
        "cep": "81070-000",
        "year_built": 1999,
    },
]


class FakeCatalog:
    """Search filters on price, city and bedrooms only; slots 09:00-17:00 except Sundays."""

    def __init__(self) -> None:
        self.searches: list[dict[str, Any]] = []
        self.booked: dict[tuple[int, str], dict[str, Any]] = {}

    def _listing(self, property_id: Any) -> dict[str, Any]:
        for item in LISTINGS:
            if item["id"] == int(property_id):
                return item
        raise FakeCatalogError(404, "property not found", {"detail": "property not found"})

    def search(self, **params: Any) -> dict[str, Any]:
        self.searches.append(params)
        items = [
            item
            for item in LISTINGS
            if item["price"] <= params.get("price_max", 10**12)
            and item["bedrooms"] >= params.get("bedrooms_min", 0)
            and params.get("city", "Curitiba") == "Curitiba"
        ]
        return {"total": len(items), "page": 1, "page_size": params.get("page_size", 20), "items": items}

    def get_property(self, property_id: Any) -> dict[str, Any]:
        return dict(self._listing(property_id))

    def _free(self, property_id: int, day: date) -> list[str]:
        if day.weekday() == 6:
            return []
        hours = [f"{h:02d}:00" for h in range(9, 18)]
        return [h for h in hours if (property_id, f"{day.isoformat()}T{h}") not in self.booked]

    def availability(self, property_id: Any, date: str) -> dict[str, Any]:
        day = datetime.fromisoformat(date).date()
        slots = self._free(int(property_id), day)
        return {"property_id": int(property_id), "date": date, "open": day.weekday() != 6, "slots": slots}

    def book_visit(
        self, property_id: Any, scheduled_at: str, visitor_name: str, visitor_phone: str, visitor_email: str
    ) -> dict[str, Any]:
        key = (int(property_id), scheduled_at)
        if key in self.booked:
            day = datetime.fromisoformat(scheduled_at).date()
            free = [f"{day.isoformat()}T{h}" for h in self._free(int(property_id), day)][:3]
            raise FakeCatalogError(409, "slot taken", {"detail": "slot taken", "alternatives": free})
        visit = {
            "id": len(self.booked) + 1,
            "code": f"VIS-{len(self.booked) + 1:06d}",
            "property_id": int(property_id),
            "scheduled_at": scheduled_at,
            "visitor_name": visitor_name,
            "visitor_phone": visitor_phone,
            "visitor_email": visitor_email,
            "status": "scheduled",
        }
        self.booked[key] = visit
        return visit
