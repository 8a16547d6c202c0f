"""An event dated beyond the service clock plus a minute is a 422; one a minute
ahead (clocks differ a little) is stored."""

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from litestar.testing import TestClient

from service.settings import Settings
from service.web.app import create_app
from tests.service.events_data import signal

Client = TestClient  # type: ignore[type-arg]
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
LATEST = "2025-06-01T12:01:00Z"
TOO_LATE = "2025-06-01T12:01:00.000001Z"


@pytest.fixture
def at_noon(settings: Settings) -> Iterator[Client]:
    with TestClient(create_app(settings, lambda: NOW)) as client:
        yield client


def test_an_event_after_the_clock_plus_a_minute_is_refused(at_noon: Client) -> None:
    response = at_noon.post("/v1/events", json=signal(occurred_at=TOO_LATE))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    (error,) = response.json()["errors"]
    assert error["field"] == "occurred_at"
    assert LATEST in error["message"]
    assert at_noon.get("/v1/events").json()["events"] == []


def test_an_offset_is_taken_into_account(at_noon: Client) -> None:
    ahead = at_noon.post("/v1/events", json=signal(occurred_at="2025-06-01T14:00:00+02:00"))
    assert ahead.status_code == 201, ahead.text
    later = at_noon.post("/v1/events", json=signal(occurred_at="2025-06-01T13:02:00+01:00"))
    assert later.status_code == 422


def test_up_to_a_minute_ahead_is_stored(at_noon: Client) -> None:
    response = at_noon.post("/v1/events", json=signal(occurred_at=LATEST))
    assert response.status_code == 201, response.text


def test_a_batch_with_one_future_event_stores_none(at_noon: Client) -> None:
    body = {
        "events": [
            signal("a", occurred_at="2025-05-31T00:00:00Z"),
            signal("b", occurred_at="2026-01-01T00:00:00Z"),
            signal("c", occurred_at=LATEST),
        ]
    }
    response = at_noon.post("/v1/events/batch", json=body)
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["field"] == "events[1].occurred_at"
    assert LATEST in error["message"]
    assert at_noon.get("/v1/events").json()["events"] == []
