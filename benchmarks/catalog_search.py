"""Search latency of the demo property catalog at 100,000 listings, through HTTP and directly.

  python benchmarks/catalog_search.py [--listings 100000] [--searches 400] [--seed 42]

Seeds a fresh SQLite catalog (timed), starts the server on it as a subprocess, then runs the same mix of
realistic assistant searches (random filters drawn from the scenarios) over HTTP, one at a time, and
directly through ``search()`` on a connection. Prints p50/p95/p99 in milliseconds; the goal is p95 <= 5 ms.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from convoload.model import percentile
from convoload_demo.realestate.catalog import CatalogServer, CatalogSettings
from convoload_demo.realestate.catalog.db import open_engine, seed_catalog
from convoload_demo.realestate.catalog.geo import CITIES
from convoload_demo.realestate.catalog.model import AMENITIES
from convoload_demo.realestate.catalog.search import SearchParams, search


def random_query(rng: random.Random) -> dict[str, Any]:
    """A search an assistant could plausibly send: a city, a deal, usually a type and a budget."""
    city = rng.choice(CITIES)
    tx = rng.choice(("sale", "rent"))
    query: dict[str, Any] = {"city": city.name, "transaction_type": tx}
    if rng.random() < 0.8:
        query["property_type"] = rng.choice(
            (["apartment"], ["studio", "apartment"], ["house"], ["penthouse"])
        )
    if rng.random() < 0.5:
        query["neighbourhood"] = [n.name for n in rng.sample(city.neighbourhoods, k=rng.randint(1, 2))]
    if rng.random() < 0.8:
        budgets = (
            (400_000, 650_000, 1_000_000, 2_500_000, 8_000_000) if tx == "sale" else (1_800, 3_000, 8_000)
        )
        query["price_max"] = rng.choice(budgets)
    if rng.random() < 0.6:
        query["bedrooms_min"] = rng.randint(1, 4)
    if rng.random() < 0.2:
        query["amenities"] = rng.sample(AMENITIES, k=rng.randint(1, 2))
    if rng.random() < 0.15:
        query["pet_friendly"] = True
    if rng.random() < 0.15:
        query["furnished"] = True
    if rng.random() < 0.15:  # "perto de" searches: a point in the city and a radius
        nbh = rng.choice(city.neighbourhoods)
        query["near"] = f"{nbh.latitude},{nbh.longitude}"
        query["radius_km"] = rng.choice((1, 2, 5))
    query["sort"] = rng.choice(("price_asc", "price_asc", "price_desc", "newest", "area_desc"))
    if rng.random() < 0.2:
        query["page"] = rng.randint(2, 4)
    return query


def percentiles(samples_ms: list[float]) -> str:
    ordered = sorted(samples_ms)
    p50, p95, p99 = (percentile(ordered, p) for p in (50, 95, 99))
    return f"p50 {p50:6.2f} ms   p95 {p95:6.2f} ms   p99 {p99:6.2f} ms   (n={len(ordered)})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--listings", type=int, default=100_000)
    parser.add_argument("--searches", type=int, default=400)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="catalog-bench-") as tmp:
        return run(f"sqlite:///{Path(tmp) / 'catalog.db'}", args)


def run(url: str, args: argparse.Namespace) -> int:
    engine = open_engine(url)
    started = time.perf_counter()
    count = seed_catalog(engine, args.listings, args.seed)
    print(f"seeded {count:,} listings in {time.perf_counter() - started:.1f} s")

    rng = random.Random(args.seed)
    queries = [random_query(rng) for _ in range(args.searches)]
    matches: list[int] = []

    direct_ms: list[float] = []
    with engine.connect() as conn:
        for query in queries[:20]:
            search(conn, SearchParams(**query))  # warm the page cache
        for query in queries:
            t0 = time.perf_counter()
            result = search(conn, SearchParams(**query))
            direct_ms.append((time.perf_counter() - t0) * 1000)
            matches.append(result.total)
    engine.dispose()

    http_ms: list[float] = []
    with (
        CatalogServer(CatalogSettings(listings=0, database_url=url)) as server,
        httpx.Client(base_url=server.url, trust_env=False, timeout=10) as http,
    ):
        for query in queries[:20]:
            http.get("/api/properties/search", params=query).raise_for_status()
        for query in queries:
            t0 = time.perf_counter()
            response = http.get("/api/properties/search", params=query)
            http_ms.append((time.perf_counter() - t0) * 1000)
            response.raise_for_status()
        floor_ms: list[float] = []  # the same client and server doing no work: HTTP's own cost
        for _ in queries:
            t0 = time.perf_counter()
            http.get("/health").raise_for_status()
            floor_ms.append((time.perf_counter() - t0) * 1000)

    print(f"matches per search: median {sorted(matches)[len(matches) // 2]:,}, max {max(matches):,}")
    print(f"direct search(): {percentiles(direct_ms)}")
    print(f"HTTP search:     {percentiles(http_ms)}")
    print(f"HTTP /health:    {percentiles(floor_ms)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
