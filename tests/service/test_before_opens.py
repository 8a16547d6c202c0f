"""A scenario answer says how many matching events fell before ``opens_at`` and so
are in the prior (issue 15, point 3): not retracted, matched by any rule of the
current version, each counted once."""

from typing import Any

import pytest
from litestar.testing import TestClient

from tests.service.events_data import signal

Client = TestClient  # type: ignore[type-arg]
pytestmark = pytest.mark.parametrize("store", ["sqlite"], indirect=True)


def rule(name: str, label: str) -> dict[str, Any]:
    return {"name": name, "match": {"kind": "signal", "where": {"label": label}},
            "bayes_factor": 2.0}  # fmt: skip


def definition(opens_at: str) -> dict[str, Any]:
    return {
        "title": "t",
        "question": "q",
        "opens_at": opens_at,
        "deadline": "2027-01-01T00:00:00Z",
        "prior": 0.2,
        "rules": [rule("a", "a"), rule("tagged", "a"), rule("b", "b")],
    }


def append(client: Client, label: str, occurred_at: str) -> str:
    response = client.post("/v1/events", json=signal(label, occurred_at=occurred_at))
    assert response.status_code == 201, response.text
    event_id: str = response.json()["event_id"]
    return event_id


def before_opens(client: Client, slug: str) -> tuple[int, int]:
    """The count in the scenario's own answer and in the list's."""
    one = client.get(f"/v1/scenarios/{slug}").json()["before_opens"]
    listed = {s["id"]: s["before_opens"] for s in client.get("/v1/scenarios").json()["scenarios"]}
    return one, listed[slug]


def test_events_before_opens_at_are_counted_once_unless_retracted(client: Client) -> None:
    append(client, "a", "2025-03-01T00:00:00Z")  # two rules match it: counted once
    append(client, "b", "2025-04-01T00:00:00Z")
    retracted = append(client, "b", "2025-05-01T00:00:00Z")
    append(client, "other", "2025-05-02T00:00:00Z")  # matches no rule
    append(client, "a", "2025-07-01T00:00:00Z")  # after opens_at: in the evidence
    assert (
        client.put("/v1/scenarios/alpha", json=definition("2025-06-01T00:00:00Z")).status_code
        == 201
    )
    assert before_opens(client, "alpha") == (3, 3)
    response = client.post(f"/v1/events/{retracted}/retraction", json={"reason": "wrong"})
    assert response.status_code == 201, response.text
    assert before_opens(client, "alpha") == (2, 2)
    append(client, "a", "2025-02-01T00:00:00Z")  # appended after the scenario was defined
    assert before_opens(client, "alpha") == (3, 3)


def test_the_count_follows_the_current_version(client: Client) -> None:
    append(client, "a", "2025-03-01T00:00:00Z")
    append(client, "a", "2025-07-01T00:00:00Z")
    assert (
        client.put("/v1/scenarios/alpha", json=definition("2025-01-01T00:00:00Z")).status_code
        == 201
    )
    assert before_opens(client, "alpha") == (0, 0)
    revised = client.put("/v1/scenarios/alpha", json=definition("2025-08-01T00:00:00Z"))
    assert revised.status_code == 200, revised.text
    assert before_opens(client, "alpha") == (2, 2)
