"""Visit availability and booking: business hours, conflicts with alternatives, persistence."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta

import httpx
import pytest
from sqlalchemy import update

from convoload_demo.realestate.catalog import CatalogClient, CatalogError, CatalogServer
from convoload_demo.realestate.catalog.__main__ import main as catalog_main
from convoload_demo.realestate.catalog.db import open_engine
from convoload_demo.realestate.catalog.model import visits
from convoload_demo.realestate.catalog.settings import CatalogSettings
from convoload_demo.realestate.catalog.visits import local_now

from .helpers import assert_old_visits_table_migrates, build_fixture_db

ALL_SLOTS = ["09:00", "10:00", "11:00", "12:00", "13:00", "14:00", "15:00", "16:00", "17:00"]
VISITOR = {
    "visitor_name": "Ana Souza",
    "visitor_phone": "+55 41 99876-5432",
    "visitor_email": "ana@example.com",
}


def next_weekday(weekday: int, after_days: int = 2) -> date:
    """The first ``weekday`` (0 = Monday) at least ``after_days`` from today in São Paulo."""
    day = local_now().date() + timedelta(days=after_days)
    while day.weekday() != weekday:
        day += timedelta(days=1)
    return day


@pytest.fixture
def monday() -> date:
    return next_weekday(0)


@pytest.fixture
def saturday() -> date:
    return next_weekday(5)


def book(client: CatalogClient, property_id: int, when: str) -> dict:
    return client.book_visit(property_id, when, **VISITOR)


def expect_422(client: CatalogClient, property_id: int, when: str, words: str) -> None:
    with pytest.raises(CatalogError) as caught:
        book(client, property_id, when)
    assert caught.value.status == 422
    assert words in caught.value.detail


@pytest.mark.e2e
def test_booking_is_persisted(client: CatalogClient, monday: date) -> None:
    when = f"{monday}T10:00"
    visit = book(client, 1, when)
    assert visit["code"].startswith("VIS-") and len(visit["code"]) == 10
    assert {k: visit[k] for k in ("property_id", "scheduled_at", "status")} == {
        "property_id": 1,
        "scheduled_at": when,
        "status": "scheduled",
    }
    assert {k: visit[k] for k in VISITOR} == VISITOR
    assert visit["created_at"].endswith("Z")
    assert client.get_visit(visit["id"]) == visit


@pytest.mark.e2e
def test_conflict_returns_409_with_same_day_alternatives_first(client: CatalogClient, monday: date) -> None:
    book(client, 2, f"{monday}T09:00")
    book(client, 2, f"{monday}T11:00")
    with pytest.raises(CatalogError) as caught:
        book(client, 2, f"{monday}T09:00")
    assert caught.value.status == 409
    assert "already has a visit" in caught.value.detail
    assert caught.value.body["alternatives"] == [f"{monday}T10:00", f"{monday}T12:00", f"{monday}T13:00"]
    # Another property is free at the same time.
    assert book(client, 3, f"{monday}T09:00")["property_id"] == 3


@pytest.mark.e2e
def test_conflict_alternatives_roll_over_to_the_next_open_day(client: CatalogClient, saturday: date) -> None:
    for hour in (15, 16, 17):
        book(client, 4, f"{saturday}T{hour}:00")
    with pytest.raises(CatalogError) as caught:
        book(client, 4, f"{saturday}T17:00")
    assert caught.value.status == 409
    monday = saturday + timedelta(days=2)  # Sunday is closed
    earlier = [f"{saturday}T{hour:02d}:00" for hour in (9, 10, 11)]
    assert caught.value.body["alternatives"] == earlier
    for hour in range(9, 15):
        book(client, 4, f"{saturday}T{hour:02d}:00")
    with pytest.raises(CatalogError) as caught:
        book(client, 4, f"{saturday}T17:00")
    assert caught.value.body["alternatives"] == [f"{monday}T09:00", f"{monday}T10:00", f"{monday}T11:00"]


@pytest.mark.e2e
def test_availability_excludes_booked_slots(client: CatalogClient, monday: date) -> None:
    day = (monday + timedelta(days=7)).isoformat()
    assert client.availability(5, day) == {"property_id": 5, "date": day, "open": True, "slots": ALL_SLOTS}
    book(client, 5, f"{day}T14:00")
    book(client, 5, f"{day}T09:00")
    remaining = [slot for slot in ALL_SLOTS if slot not in ("09:00", "14:00")]
    assert client.availability(5, day)["slots"] == remaining
    assert client.availability(6, day)["slots"] == ALL_SLOTS  # bookings are per property


@pytest.mark.e2e
def test_availability_closed_on_sundays_and_past_days(client: CatalogClient) -> None:
    sunday = next_weekday(6).isoformat()
    assert client.availability(1, sunday) == {"property_id": 1, "date": sunday, "open": False, "slots": []}
    past_monday = "2020-01-06"
    assert client.availability(1, past_monday) == {
        "property_id": 1,
        "date": past_monday,
        "open": True,
        "slots": [],
    }


@pytest.mark.e2e
def test_unavailable_listing_offers_no_slots_and_rejects_bookings(
    client: CatalogClient, monday: date
) -> None:
    assert client.availability(12, monday.isoformat())["slots"] == []  # 12 is sold
    expect_422(client, 12, f"{monday}T10:00", "not available")


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("when", "words"),
    [
        ("sunday T10:00", "Sundays"),
        ("monday T08:00", "between 09:00 and 17:00"),
        ("monday T18:00", "between 09:00 and 17:00"),
        ("monday T10:30", "on the hour"),
        ("2020-01-06T10:00", "past"),
        ("far T10:00", "days ahead"),
        ("monday T25:00", "not a valid date"),
    ],
)
def test_invalid_visit_times_are_422(client: CatalogClient, monday: date, when: str, words: str) -> None:
    days = {"sunday ": next_weekday(6), "monday ": monday, "far ": next_weekday(0, after_days=120)}
    for prefix, day in days.items():
        when = when.replace(prefix, str(day))
    expect_422(client, 7, when, words)


@pytest.fixture
def bad_bodies() -> Iterator[list[dict]]:
    yield [
        {"property_id": 1, "scheduled_at": "tomorrow at ten", **VISITOR},
        {"property_id": 1, "scheduled_at": "2030-01-07T10:00", **VISITOR, "visitor_email": "not-an-email"},
        {"property_id": 1, "scheduled_at": "2030-01-07T10:00", **VISITOR, "visitor_name": "  "},
        {"property_id": 1, "scheduled_at": "2030-01-07T10:00"},
    ]


@pytest.mark.e2e
def test_malformed_visit_bodies_are_422(fixture_server: CatalogServer, bad_bodies: list[dict]) -> None:
    for body in bad_bodies:
        response = httpx.post(fixture_server.url + "/api/visits", json=body, trust_env=False)
        assert response.status_code == 422, body
        assert response.json()["detail"][0]["loc"][0] == "body"


@pytest.mark.e2e
def test_booking_unknown_property_is_404(client: CatalogClient, monday: date) -> None:
    with pytest.raises(CatalogError) as caught:
        book(client, 999, f"{monday}T10:00")
    assert (caught.value.status, caught.value.detail) == (404, "property 999 not found")


@pytest.mark.e2e
def test_a_sandbox_gives_a_booked_slot_back_and_keeps_the_visit(tmp_path, monday: date) -> None:
    url = build_fixture_db(tmp_path / "sandbox.db")
    settings = CatalogSettings(listings=0, database_url=url, release_visits_after_s=3600)
    when = f"{monday}T10:00"
    with CatalogServer(settings) as server, CatalogClient(server.url) as client:
        first = book(client, 3, when)
        other = book(client, 3, f"{monday}T11:00")
        with pytest.raises(CatalogError) as caught:
            book(client, 3, when)
        assert caught.value.status == 409  # held: an hour has not passed
        # The first visit was booked two hours ago, as far as the catalog can tell.
        booked = datetime.fromisoformat(first["created_at"].removesuffix("Z"))
        engine = open_engine(url)
        with engine.begin() as conn:
            conn.execute(
                update(visits)
                .where(visits.c.id == first["id"])
                .values(created_at=booked - timedelta(hours=2))
            )
        engine.dispose()
        assert "10:00" in client.availability(3, str(monday))["slots"]
        again = book(client, 3, when)
        assert again["code"] != first["code"] and again["status"] == "scheduled"
        assert client.get_visit(first["id"])["status"] == "released"  # its record stays
        assert client.get_visit(other["id"])["status"] == "scheduled"
        assert "11:00" not in client.availability(3, str(monday))["slots"]


@pytest.mark.e2e
def test_by_default_a_booked_slot_stays_booked(client: CatalogClient, monday: date) -> None:
    visit = book(client, 4, f"{monday}T15:00")
    assert CatalogSettings().release_visits_after_s is None
    assert client.get_visit(visit["id"])["status"] == "scheduled"
    assert "15:00" not in client.availability(4, str(monday))["slots"]


def test_the_release_option_must_be_positive(capsys) -> None:
    assert catalog_main(["--release-visits-after", "0"]) == 2
    assert "--release-visits-after must be > 0" in capsys.readouterr().err


def test_a_sqlite_database_from_before_released_visits_is_migrated(tmp_path) -> None:
    assert_old_visits_table_migrates(f"sqlite:///{tmp_path / 'old.db'}")
