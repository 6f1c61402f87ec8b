"""Property-based fuzzing of every operation in the served OpenAPI spec: no input may cause a 5xx.

Uses schemathesis' Python API with plain Hypothesis (not its pytest plugin), so it also runs when the
plugin is disabled with ``-p no:schemathesis``.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from convoload_demo.realestate.catalog import CatalogServer

pytestmark = pytest.mark.e2e

OPERATIONS = [
    ("GET", "/health"),
    ("GET", "/api/properties/search"),
    ("GET", "/api/properties/{property_id}"),
    ("GET", "/api/properties/{property_id}/availability"),
    ("POST", "/api/visits"),
    ("GET", "/api/visits/{visit_id}"),
]


@pytest.fixture(scope="module")
def catalog_schema(fixture_server: CatalogServer) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(fixture_server.url + "/openapi.json")


def test_every_operation_is_fuzzed(catalog_schema: schemathesis.BaseSchema) -> None:
    served = {
        (method.upper(), path)
        for path, methods in catalog_schema.raw_schema["paths"].items()
        for method in methods
    }
    assert served == set(OPERATIONS)


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_no_server_errors(catalog_schema: schemathesis.BaseSchema, method: str, path: str) -> None:
    operation = catalog_schema[path][method]
    seen: list[int] = []

    @given(case=operation.as_strategy())
    @settings(max_examples=50, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    def check(case: schemathesis.Case) -> None:
        response = case.call(timeout=10)
        seen.append(response.status_code)
        assert response.status_code < 500, f"{method} {case.formatted_path}: {response.text[:500]}"

    check()
    assert seen  # the strategy produced requests at all
