"""Request bodies and checks shared by the end-to-end tests."""

import ssl
from itertools import pairwise
from typing import Any
from uuid import uuid4

import httpx

Json = dict[str, Any]

# Never used (the servers speak plain HTTP), but httpx builds a TLS context for every
# client unless given one, which costs tens of milliseconds each.
_TLS = ssl.create_default_context()


def http(base_url: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=30, verify=_TLS)


def async_http(base_url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base_url, timeout=30, verify=_TLS)


SCENARIO: Json = {
    "title": "t",
    "question": "q",
    "opens_at": "2025-01-01T00:00:00Z",
    "deadline": "2027-01-01T00:00:00Z",
    "prior": 0.2,
    "rules": [
        {"name": "r", "match": {"kind": "signal", "where": {"label": "test"}}, "bayes_factor": 2}
    ],
}


def signal(summary: str = "x", *, with_id: bool = False, **fields: Any) -> Json:
    """A minimal valid event (only non-default fields, so it lists back exactly as sent)."""
    body: Json = {
        "kind": "signal",
        "occurred_at": "2025-01-01T00:00:00Z",
        "summary": summary,
        "label": "test",
        **fields,
    }
    if with_id:
        body["event_id"] = str(uuid4())
    return body


def as_sent(listed: Json, sent: Json) -> Json:
    """The listed event's fields that the client sent (to compare with what it sent)."""
    return {name: listed.get(name) for name in sent}


def list_all(client: httpx.Client, limit: int = 1000) -> list[Json]:
    """Every listed event, page by page, checking the paging contract on the way:
    pages are at most ``limit`` long, ``next_after`` is the last position of a full
    page (or null on the last page), and positions strictly increase across pages."""
    events: list[Json] = []
    after = 0
    while True:
        response = client.get("/v1/events", params={"after": after, "limit": limit})
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["events"]) <= limit
        events.extend(page["events"])
        if page["next_after"] is None:
            break
        assert page["events"], "a page with a next_after must not be empty"
        assert page["next_after"] == page["events"][-1]["position"]
        after = page["next_after"]
    positions = [event["position"] for event in events]
    assert all(a < b for a, b in pairwise(positions)), (
        "GET /v1/events is not in strictly increasing position order"
    )
    return events


def by_id(events: list[Json]) -> dict[str, Json]:
    found = {event["event_id"]: event for event in events}
    assert len(found) == len(events), "an event_id is listed more than once"
    return found
