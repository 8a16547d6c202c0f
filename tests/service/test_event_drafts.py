"""POST /v1/events/duplicates: the events a draft would be a possible duplicate of,
by the append's own rule, storing nothing, refusing what an append refuses."""

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar.testing import TestClient

from service.application import Tradewinds
from tests.service.events_data import approval, signal

Client = TestClient  # type: ignore[type-arg]
TIME = re.compile(r"\d{4}-\d\d-\d\dT[0-9:.]+Z")


def post(client: Client, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/events", json=body)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def check(client: Client, body: dict[str, Any]) -> list[str]:
    response = client.post("/v1/events/duplicates", json=body)
    assert response.status_code == 200, response.text
    found: list[str] = response.json()["possible_duplicates"]
    return found


def fields(problem: dict[str, Any]) -> list[tuple[str, str]]:
    """Each error's field and message, the service clock's time left out."""
    return [(e.get("field", ""), TIME.sub("T", e["message"])) for e in problem["errors"]]


def head(client: Client) -> int | None:
    tradewinds: Tradewinds = client.app.state.tradewinds
    return tradewinds.store_head()


def test_names_what_the_append_would_name_and_stores_nothing(client: Client) -> None:
    first = post(client, approval())
    post(client, approval(product="H20"))
    draft = approval(occurred_at="2025-12-09T09:00:00Z", product=" h200 ", summary="Another report")
    before = head(client)
    assert check(client, draft) == [first["event_id"]]
    assert check(client, draft) == [first["event_id"]]
    assert head(client) == before
    listed = client.get("/v1/events", params={"limit": 1000}).json()["events"]
    assert len(listed) == 2
    assert post(client, draft)["possible_duplicates"] == [first["event_id"]]


def test_a_draft_like_nothing_stored_names_nothing(client: Client) -> None:
    post(client, approval())
    assert check(client, approval(occurred_at="2025-12-12T15:00:00Z")) == []
    assert check(client, approval(destination="AE")) == []
    assert check(client, signal("elsewhere")) == []


def test_leaves_out_retracted_events(client: Client) -> None:
    first = post(client, signal("talk"))
    second = post(client, signal("talk", summary="again"))
    assert check(client, signal("talk")) == [first["event_id"], second["event_id"]]
    response = client.post(
        f"/v1/events/{first['event_id']}/retraction", json={"reason": "misreported"}
    )
    assert response.status_code == 201, response.text
    assert check(client, signal("talk")) == [second["event_id"]]


def test_refuses_what_an_append_refuses_with_the_same_field_messages(client: Client) -> None:
    future = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    for body in (
        approval(destination="XX"),
        approval(product=""),
        {key: value for key, value in approval().items() if key != "authority"},
        approval(occurred_at=future),
        approval(extra="no"),
        {"kind": "no_such_kind", "summary": "x"},
    ):
        drafted = client.post("/v1/events/duplicates", json=body)
        appended = client.post("/v1/events", json=body)
        assert drafted.status_code == appended.status_code == 422, (body, drafted.text)
        assert fields(drafted.json()) == fields(appended.json()), body
    assert client.get("/v1/events").json()["events"] == []
