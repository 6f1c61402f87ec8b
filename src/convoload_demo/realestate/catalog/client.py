"""Small synchronous client of the catalog API, for the assistant and other convoload components."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

import httpx


class CatalogError(Exception):
    """A non-2xx answer: ``status``, a readable ``detail`` and the JSON ``body`` (409s keep alternatives)."""

    def __init__(self, status: int, detail: str, body: dict[str, Any]) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail
        self.body = body


def _detail_text(body: dict[str, Any], fallback: str) -> str:
    detail = body.get("detail")
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):  # FastAPI validation errors: "loc: msg" for each
        parts = []
        for error in detail:
            if isinstance(error, dict):
                loc = ".".join(str(p) for p in error.get("loc", ()) if p not in ("query", "body", "path"))
                parts.append(f"{loc}: {error.get('msg', '')}" if loc else str(error.get("msg", "")))
        return "; ".join(parts) or fallback
    return fallback


def _query(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Query pairs: lists become repeated parameters, booleans lower-case, None is dropped."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        values = value if isinstance(value, list | tuple | set | frozenset) else [value]
        for item in values:
            if item is None:
                continue
            pairs.append((key, str(item).lower() if isinstance(item, bool) else str(item)))
    return pairs


class CatalogClient:
    """``CatalogClient("http://127.0.0.1:8000").search(city="Curitiba", bedrooms_min=3)``."""

    def __init__(self, base_url: str, timeout_s: float = 10.0) -> None:
        # trust_env=False: the catalog is a local service; an ambient proxy must not capture it.
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_s, trust_env=False)

    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self._http.request(method, path, **kwargs)
        try:
            body = response.json()
        except ValueError:
            body = {"detail": response.text}
        if not isinstance(body, dict):
            body = {"detail": body}
        if response.is_success:
            return body
        raise CatalogError(response.status_code, _detail_text(body, response.reason_phrase), body)

    def health(self) -> dict[str, Any]:
        return self._request("GET", "/health")

    def search(self, **params: Any) -> dict[str, Any]:
        return self._request("GET", "/api/properties/search", params=_query(params))

    def get_property(self, property_id: int) -> dict[str, Any]:
        return self._request("GET", f"/api/properties/{property_id}")

    def availability(self, property_id: int, date: str) -> dict[str, Any]:
        return self._request("GET", f"/api/properties/{property_id}/availability", params={"date": date})

    def book_visit(
        self, property_id: int, scheduled_at: str, visitor_name: str, visitor_phone: str, visitor_email: str
    ) -> dict[str, Any]:
        payload = {
            "property_id": property_id,
            "scheduled_at": scheduled_at,
            "visitor_name": visitor_name,
            "visitor_phone": visitor_phone,
            "visitor_email": visitor_email,
        }
        return self._request("POST", "/api/visits", json=payload)

    def get_visit(self, visit_id: int) -> dict[str, Any]:
        return self._request("GET", f"/api/visits/{visit_id}")

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
