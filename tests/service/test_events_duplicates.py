"""Possible duplicates: an append whose event looks like a stored one is stored, and
its answer names the look-alikes (``possible_duplicates``), as does the listing."""

from typing import Any

import pytest
from anyio import to_thread
from litestar.testing import TestClient

from service.settings import Settings
from service.web.app import create_app
from tests.service.events_data import approval, signal

Client = TestClient  # type: ignore[type-arg]


def post(client: Client, body: dict[str, Any], status: int = 201) -> dict[str, Any]:
    response = client.post("/v1/events", json=body)
    assert response.status_code == status, response.text
    answer: dict[str, Any] = response.json()
    return answer


def post_batch(client: Client, *bodies: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.post("/v1/events/batch", json={"events": list(bodies)})
    assert response.status_code == 201, response.text
    answer: list[dict[str, Any]] = response.json()
    return answer


def test_an_event_like_a_stored_one_is_stored_and_names_it(client: Client) -> None:
    first = post(client, approval())
    assert first["possible_duplicates"] == []
    again = post(
        client,
        approval(
            occurred_at="2025-12-09T09:00:00Z",
            summary="Reuters: US to let Nvidia ship H200 to China",
            authority=" us commerce (bis)",
            product="h200",
        ),
    )
    assert again["possible_duplicates"] == [first["event_id"]]
    assert again["position"] > first["position"]
    stored = client.get(f"/v1/events/{again['event_id']}")
    assert stored.status_code == 200


def test_other_product_destination_or_a_day_apart_is_no_duplicate(client: Client) -> None:
    post(client, approval())
    for changes in (
        {"product": "H20"},
        {"destination": "AE"},
        {"occurred_at": "2025-12-09T20:00:01Z"},
        {"kind": "export_restriction"},
    ):
        assert post(client, approval(**changes))["possible_duplicates"] == [], changes


def test_every_stored_look_alike_is_named_in_log_order(client: Client) -> None:
    ids = [post(client, signal("tariff talk"))["event_id"] for _ in range(3)]
    assert post(client, signal("Tariff Talk"))["possible_duplicates"] == ids


def test_a_retracted_event_is_no_duplicate(client: Client) -> None:
    first = post(client, approval())
    retraction = client.post(
        f"/v1/events/{first['event_id']}/retraction", json={"reason": "posted twice"}
    )
    assert retraction.status_code == 201
    assert post(client, approval())["possible_duplicates"] == []


def test_a_batch_names_stored_look_alikes_and_earlier_ones_of_the_batch(client: Client) -> None:
    stored = post(client, signal("a"))
    receipts = post_batch(client, signal("b"), signal("a"), signal("B"), signal("c"))
    assert [r["possible_duplicates"] for r in receipts] == [
        [],
        [stored["event_id"]],
        [receipts[0]["event_id"]],
        [],
    ]


def test_an_idempotent_resend_is_not_its_own_duplicate(client: Client) -> None:
    first = post(client, approval())
    event_id = first["event_id"]
    again = post(client, approval(event_id=event_id), status=200)
    assert again == first
    assert again["possible_duplicates"] == []
    keyed = client.post("/v1/events", json=signal(), headers={"Idempotency-Key": "k1"})
    replay = client.post("/v1/events", json=signal(), headers={"Idempotency-Key": "k1"})
    assert replay.status_code == 200
    assert replay.json() == keyed.json()
    assert replay.json()["possible_duplicates"] == []


def test_the_listing_and_one_event_name_its_earlier_look_alikes(client: Client) -> None:
    first = post(client, approval())
    other = post(client, approval(product="H20"))
    second = post(client, approval())
    listed = client.get("/v1/events").json()["events"]
    named = {e["event_id"]: e["possible_duplicates"] for e in listed}
    assert named == {
        first["event_id"]: [],
        other["event_id"]: [],
        second["event_id"]: [first["event_id"]],
    }
    for event in listed:
        assert client.get(f"/v1/events/{event['event_id']}").json() == event


def test_at_most_the_latest_ten_are_named(client: Client) -> None:
    ids = [r["event_id"] for r in post_batch(client, *[signal("same")] * 12)]
    assert post(client, signal("same"))["possible_duplicates"] == ids[2:]


def test_look_alikes_a_day_either_side_across_midnight_are_named(client: Client) -> None:
    late = post(client, signal("n", occurred_at="2025-03-01T23:00:00Z"))
    early = post(client, signal("n", occurred_at="2025-03-03T00:30:00Z"))
    outside = post(client, signal("n", occurred_at="2025-03-01T00:00:00Z"))
    assert early["possible_duplicates"] == []
    assert outside["possible_duplicates"] == [late["event_id"]]
    between = post(client, signal("n", occurred_at="2025-03-02T12:00:00Z"))
    assert between["possible_duplicates"] == [late["event_id"], early["event_id"]]


def test_the_index_is_rebuilt_by_replay_after_a_restart(settings: Settings) -> None:
    with TestClient(create_app(settings)) as before:
        first = post(before, approval())
        second = post(before, approval(summary="the same, again"))
    with TestClient(create_app(settings)) as after:
        listed = after.get("/v1/events").json()["events"]
        assert [e["possible_duplicates"] for e in listed] == [[], [first["event_id"]]]
        third = post(after, approval(summary="and once more"))
        assert third["possible_duplicates"] == [first["event_id"], second["event_id"]]


def test_a_repeated_append_answers_as_first_though_the_look_alike_was_retracted_since(
    client: Client,
) -> None:
    first = post(client, approval())
    keyed = client.post("/v1/events", json=approval(), headers={"Idempotency-Key": "k2"})
    assert keyed.status_code == 201
    assert keyed.json()["possible_duplicates"] == [first["event_id"]]
    retraction = client.post(
        f"/v1/events/{first['event_id']}/retraction", json={"reason": "the later one is right"}
    )
    assert retraction.status_code == 201
    again = client.post("/v1/events", json=approval(), headers={"Idempotency-Key": "k2"})
    assert (again.status_code, again.json()) == (200, keyed.json())
    shown = client.get(f"/v1/events/{keyed.json()['event_id']}").json()
    assert shown["possible_duplicates"] == []


@pytest.mark.timeout(60)
def test_a_single_append_names_its_look_alikes_without_a_worker_thread(client: Client) -> None:
    """A hand-off to a worker thread costs more than a single event's lookup: with every
    worker thread of the app's loop taken, single appends still answer, and in full."""
    first = post(client, signal("port strike"))
    limiter_tokens = 1

    async def take_the_workers() -> None:
        limiter = to_thread.current_default_thread_limiter()
        limiter.total_tokens = limiter_tokens
        await limiter.acquire_on_behalf_of(client)

    async def give_them_back() -> None:
        to_thread.current_default_thread_limiter().release_on_behalf_of(client)

    assert client.blocking_portal is not None
    client.blocking_portal.call(take_the_workers)
    try:
        second = post(client, signal("Port Strike"))
    finally:
        client.blocking_portal.call(give_them_back)
    assert second["possible_duplicates"] == [first["event_id"]]


@pytest.mark.timeout(30)
def test_a_batch_of_a_hundred_names_its_look_alikes_without_a_worker_thread(
    client: Client,
) -> None:
    """Found together, a hundred events' look-alikes cost less than a hand-off to a
    worker thread: with every worker taken, such a batch still answers, in full (the
    latest ten earlier look-alikes of each, earlier events of the batch included)."""
    stored = [post(client, signal("port strike"))["event_id"] for _ in range(3)]

    async def take_the_workers() -> None:
        limiter = to_thread.current_default_thread_limiter()
        limiter.total_tokens = 1
        await limiter.acquire_on_behalf_of(client)

    async def give_them_back() -> None:
        to_thread.current_default_thread_limiter().release_on_behalf_of(client)

    assert client.blocking_portal is not None
    client.blocking_portal.call(take_the_workers)
    try:
        receipts = post_batch(client, *[signal(" Port Strike ") for _ in range(100)])
    finally:
        client.blocking_portal.call(give_them_back)
    ids = stored + [r["event_id"] for r in receipts]
    assert [r["possible_duplicates"] for r in receipts] == [
        ids[max(0, i - 10) : i] for i in range(3, 103)
    ]


def test_a_batch_of_a_thousand_names_the_latest_ten_before_each(client: Client) -> None:
    """Past the loop's bound (a worker thread finds them), the same answers."""
    first = post_batch(client, *[signal("tariff") for _ in range(1000)])
    second = post_batch(client, *[signal("TARIFF", summary=f"n{i}") for i in range(1000)])
    ids = [r["event_id"] for r in first + second]
    named = [r["possible_duplicates"] for r in first + second]
    assert named == [ids[max(0, i - 10) : i] for i in range(2000)]
