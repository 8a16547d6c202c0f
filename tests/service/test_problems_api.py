"""Every error is RFC 9457 problem+json, and a rejected request stores nothing."""

import pytest
from litestar.testing import TestClient

from tests.service.events_data import signal

Client = TestClient  # type: ignore[type-arg]
PROBLEM_FIELDS = {"type", "title", "status", "detail"}


def assert_problem(response: object, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    content_type = response.headers["content-type"]  # type: ignore[attr-defined]
    assert content_type.startswith("application/problem+json")
    body: dict[str, object] = response.json()  # type: ignore[attr-defined]
    assert set(body) >= PROBLEM_FIELDS
    assert body["status"] == status
    return body


def stored(client: Client) -> int:
    return len(client.get("/v1/events").json()["events"])


def test_an_unknown_route_is_a_404_problem(client: Client) -> None:
    assert_problem(client.get("/v1/nowhere"), 404)


def test_a_wrong_method_is_a_405_problem(client: Client) -> None:
    assert_problem(client.delete("/v1/events"), 405)


@pytest.mark.parametrize(
    "raw",
    [b'{"kind": "signal", ', b"not json at all", b"\xff\xfe\xfd", b"", b"[1, 2"],
)
def test_a_body_that_is_not_json_is_a_400_problem(client: Client, raw: bytes) -> None:
    response = client.post("/v1/events", content=raw, headers={"content-type": "application/json"})
    assert_problem(response, 400)
    assert stored(client) == 0


def test_json_of_the_wrong_shape_is_a_422_problem(client: Client) -> None:
    body = assert_problem(client.post("/v1/events", json=[1, 2, 3]), 422)
    assert body["errors"]
    assert stored(client) == 0


def test_a_missing_top_level_field_names_the_field(client: Client) -> None:
    event = signal()
    del event["summary"]
    body = assert_problem(client.post("/v1/events", json=event), 422)
    assert body["errors"] == [
        {"field": "summary", "message": "kind `signal` requires the field `summary`"}
    ]


def test_an_unknown_top_level_field_names_the_field(client: Client) -> None:
    body = assert_problem(client.post("/v1/events", json=signal(colour="red")), 422)
    assert body["errors"][0]["field"] == "colour"  # type: ignore[index]


def test_a_missing_field_in_a_batch_points_into_the_batch(client: Client) -> None:
    event = signal()
    del event["label"]
    body = assert_problem(client.post("/v1/events/batch", json={"events": [signal(), event]}), 422)
    assert body["errors"][0]["field"] == "events[1].label"  # type: ignore[index]
    assert stored(client) == 0


def test_a_nested_field_error_points_at_it(client: Client) -> None:
    event = signal(source={"name": "x", "url": "ftp://nope"})
    body = assert_problem(client.post("/v1/events", json=event), 422)
    assert body["errors"][0]["field"] == "source.url"  # type: ignore[index]


def test_a_derived_field_that_disagrees_names_it(client: Client) -> None:
    tariff = {
        "kind": "tariff_change",
        "occurred_at": "2025-10-10T18:00:00Z",
        "summary": "s",
        "imposing": "US",
        "target": ["CN"],
        "sector": "all",
        "rate_before_pct": 30,
        "rate_after_pct": 10,
        "status": "effective",
        "direction": "up",
    }
    body = assert_problem(client.post("/v1/events", json=tariff), 422)
    assert body["errors"][0]["field"] == "direction"  # type: ignore[index]


@pytest.mark.parametrize("number", ["1e999", "-1e999"])
def test_huge_numbers_are_rejected(client: Client, number: str) -> None:
    raw = (
        '{"kind":"market_share_report","occurred_at":"2025-01-01T00:00:00Z","summary":"s",'
        f'"company":"Nvidia","market":"China AI chips","share_pct":{number}}}'
    ).encode()
    response = client.post("/v1/events", content=raw, headers={"content-type": "application/json"})
    assert response.status_code in (400, 422)
    assert stored(client) == 0


def test_nan_is_not_json(client: Client) -> None:
    raw = (
        b'{"kind":"market_share_report","occurred_at":"2025-01-01T00:00:00Z","summary":"s",'
        b'"company":"Nvidia","market":"m","share_pct":NaN}'
    )
    response = client.post("/v1/events", content=raw, headers={"content-type": "application/json"})
    assert_problem(response, 400)


def test_the_schema_is_served_at_slash_schema(client: Client) -> None:
    response = client.get("/schema")
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


def test_liveness_answers(client: Client) -> None:
    assert client.get("/health/live").json() == {"status": "live"}


def test_readiness_answers_200_once_caught_up(client: Client) -> None:
    client.post("/v1/events", json=signal())
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json()["status"] == "ready"
