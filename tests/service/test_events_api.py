"""The Events section of the API, through litestar's test client."""

from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest
from litestar.testing import TestClient

from tests.service.events_data import approval, scenario, signal

Client = TestClient  # type: ignore[type-arg]


def listed(client: Client, **params: object) -> list[dict[str, object]]:
    response = client.get("/v1/events", params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    events: list[dict[str, object]] = response.json()["events"]
    return events


class TestAppendOne:
    def test_answers_201_with_id_position_and_recorded_at(self, client: Client) -> None:
        before = datetime.now(UTC)
        response = client.post("/v1/events", json=approval())
        assert response.status_code == 201
        body = response.json()
        assert UUID(body["event_id"])
        assert body["position"] == 1
        recorded = datetime.fromisoformat(body["recorded_at"])
        assert recorded.utcoffset() is not None
        assert before <= recorded <= datetime.now(UTC)

    def test_stores_the_event_as_sent_in_utc(self, client: Client) -> None:
        receipt = client.post("/v1/events", json=approval()).json()
        event = client.get(f"/v1/events/{receipt['event_id']}").json()
        assert event["occurred_at"] == "2025-12-08T20:00:00Z"
        assert event["product"] == "H200"
        assert event["source"] == {"name": "Asia Times", "url": "https://asiatimes.com/"}
        assert event["position"] == receipt["position"]
        assert event["recorded_at"] == receipt["recorded_at"]
        assert "retracted" not in event

    def test_keeps_a_client_chosen_event_id(self, client: Client) -> None:
        event_id = str(uuid4())
        body = client.post("/v1/events", json=approval(event_id=event_id)).json()
        assert body["event_id"] == event_id

    def test_positions_increase_with_each_append(self, client: Client) -> None:
        positions = [client.post("/v1/events", json=signal()).json()["position"] for _ in range(5)]
        assert positions == sorted(positions)
        assert len(set(positions)) == 5

    def test_derives_tariff_direction(self, client: Client) -> None:
        tariff = {
            "kind": "tariff_change",
            "occurred_at": "2025-10-10T18:00:00Z",
            "summary": "Trump threatens an extra 100% tariff on China",
            "imposing": "US",
            "target": ["CN"],
            "sector": "all goods",
            "rate_before_pct": 30,
            "rate_after_pct": 130,
            "status": "threatened",
        }
        receipt = client.post("/v1/events", json=tariff).json()
        assert client.get(f"/v1/events/{receipt['event_id']}").json()["direction"] == "up"


class TestIdempotency:
    def test_same_event_id_and_content_answers_200_with_the_first_answer(
        self, client: Client
    ) -> None:
        body = approval(event_id=str(uuid4()))
        first = client.post("/v1/events", json=body)
        again = client.post("/v1/events", json=body)
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json() == first.json()
        assert len(listed(client)) == 1

    def test_same_content_in_another_time_zone_is_the_same_event(self, client: Client) -> None:
        event_id = str(uuid4())
        client.post("/v1/events", json=approval(event_id=event_id))
        again = client.post(
            "/v1/events",
            json=approval(event_id=event_id, occurred_at="2025-12-08T20:00:00Z"),
        )
        assert again.status_code == 200

    def test_same_event_id_with_other_content_is_409_and_stores_nothing(
        self, client: Client
    ) -> None:
        event_id = str(uuid4())
        client.post("/v1/events", json=approval(event_id=event_id))
        response = client.post("/v1/events", json=approval(event_id=event_id, product="H20"))
        assert response.status_code == 409
        assert response.headers["content-type"].startswith("application/problem+json")
        assert event_id in response.json()["detail"]
        assert [e["product"] for e in listed(client)] == ["H200"]

    def test_idempotency_key_makes_a_retry_return_the_first_answer(self, client: Client) -> None:
        headers = {"Idempotency-Key": "client-42-attempt"}
        first = client.post("/v1/events", json=approval(), headers=headers)
        again = client.post("/v1/events", json=approval(), headers=headers)
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json() == first.json()
        assert len(listed(client)) == 1

    def test_idempotency_key_with_other_content_is_409(self, client: Client) -> None:
        headers = {"Idempotency-Key": "k-1"}
        client.post("/v1/events", json=approval(), headers=headers)
        response = client.post("/v1/events", json=approval(product="H20"), headers=headers)
        assert response.status_code == 409

    def test_different_idempotency_keys_store_two_events(self, client: Client) -> None:
        client.post("/v1/events", json=approval(), headers={"Idempotency-Key": "a"})
        client.post("/v1/events", json=approval(), headers={"Idempotency-Key": "b"})
        assert len(listed(client)) == 2

    def test_an_empty_idempotency_key_is_rejected(self, client: Client) -> None:
        response = client.post("/v1/events", json=approval(), headers={"Idempotency-Key": ""})
        assert response.status_code in (400, 422)
        assert listed(client) == []


class TestBatch:
    def test_stores_all_events_in_order_with_their_receipts(self, client: Client) -> None:
        events = [signal(str(i)) for i in range(10)]
        response = client.post("/v1/events/batch", json={"events": events})
        assert response.status_code == 201
        receipts = response.json()
        assert [r["position"] for r in receipts] == list(range(1, 11))
        assert len({r["recorded_at"] for r in receipts}) == 1
        assert [e["label"] for e in listed(client)] == [str(i) for i in range(10)]

    def test_one_bad_event_rejects_the_whole_batch_and_names_it(self, client: Client) -> None:
        events = [signal("a"), approval(destination="XX"), signal("c")]
        response = client.post("/v1/events/batch", json={"events": events})
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "events[1].destination"
        assert listed(client) == []

    def test_a_conflicting_event_rejects_the_whole_batch(self, client: Client) -> None:
        taken = str(uuid4())
        client.post("/v1/events", json=signal("first", event_id=taken))
        events = [signal("new"), signal("other", event_id=taken)]
        response = client.post("/v1/events/batch", json={"events": events})
        assert response.status_code == 409
        assert [e["label"] for e in listed(client)] == ["first"]

    def test_a_repeated_batch_answers_200_with_the_first_receipts(self, client: Client) -> None:
        events = [signal(str(i), event_id=str(uuid4())) for i in range(3)]
        first = client.post("/v1/events/batch", json={"events": events})
        again = client.post("/v1/events/batch", json={"events": events})
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json() == first.json()
        assert len(listed(client)) == 3

    def test_a_batch_overlapping_stored_events_stores_only_the_new_ones(
        self, client: Client
    ) -> None:
        known = signal("known", event_id=str(uuid4()))
        first = client.post("/v1/events", json=known).json()
        response = client.post("/v1/events/batch", json={"events": [known, signal("new")]})
        assert response.status_code == 201
        receipts = response.json()
        assert receipts[0] == first
        assert receipts[1]["position"] > first["position"]
        assert [e["label"] for e in listed(client)] == ["known", "new"]

    def test_batch_with_idempotency_key_is_stored_once(self, client: Client) -> None:
        headers = {"Idempotency-Key": "batch-7"}
        body = {"events": [signal("a"), signal("b")]}
        first = client.post("/v1/events/batch", json=body, headers=headers)
        again = client.post("/v1/events/batch", json=body, headers=headers)
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json() == first.json()
        assert len(listed(client)) == 2

    def test_the_same_event_id_twice_in_one_batch_is_422(self, client: Client) -> None:
        event_id = str(uuid4())
        body = {"events": [signal("a", event_id=event_id), signal("b", event_id=event_id)]}
        response = client.post("/v1/events/batch", json=body)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "events[1].event_id"
        assert listed(client) == []

    @pytest.mark.parametrize("size", [0, 1001])
    def test_batch_size_outside_1_to_1000_is_422(self, client: Client, size: int) -> None:
        response = client.post("/v1/events/batch", json={"events": [signal()] * size})
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "events"
        assert listed(client) == []

    def test_a_batch_of_1000_is_accepted(self, client: Client) -> None:
        events = [signal(str(i)) for i in range(1000)]
        response = client.post("/v1/events/batch", json={"events": events})
        assert response.status_code == 201
        assert len(response.json()) == 1000


class TestListing:
    def test_pages_in_position_order_with_a_cursor(self, client: Client) -> None:
        client.post("/v1/events/batch", json={"events": [signal(str(i)) for i in range(7)]})
        first = client.get("/v1/events", params={"limit": 3}).json()
        assert [e["label"] for e in first["events"]] == ["0", "1", "2"]
        second = client.get("/v1/events", params={"limit": 3, "after": first["next_after"]}).json()
        assert [e["label"] for e in second["events"]] == ["3", "4", "5"]
        last = client.get("/v1/events", params={"limit": 3, "after": second["next_after"]}).json()
        assert [e["label"] for e in last["events"]] == ["6"]
        assert last["next_after"] is None

    def test_a_full_last_page_has_no_cursor(self, client: Client) -> None:
        client.post("/v1/events/batch", json={"events": [signal(str(i)) for i in range(3)]})
        assert client.get("/v1/events", params={"limit": 3}).json()["next_after"] is None

    def test_default_limit_is_100(self, client: Client) -> None:
        client.post("/v1/events/batch", json={"events": [signal(str(i)) for i in range(150)]})
        page = client.get("/v1/events").json()
        assert len(page["events"]) == 100
        assert page["next_after"] == 100

    def test_filters_by_kind(self, client: Client) -> None:
        client.post("/v1/events/batch", json={"events": [signal(), approval(), signal()]})
        assert [e["kind"] for e in listed(client, kind="export_approval")] == ["export_approval"]

    def test_filters_by_occurrence_window(self, client: Client) -> None:
        events = [signal(str(m), occurred_at=f"2025-{m:02d}-15T00:00:00Z") for m in range(1, 7)]
        client.post("/v1/events/batch", json={"events": events})
        window = listed(
            client, occurred_from="2025-02-15T00:00:00Z", occurred_to="2025-04-15T00:00:00Z"
        )
        assert [e["label"] for e in window] == ["2", "3", "4"]

    def test_positions_skip_scenarios_and_retractions(self, client: Client) -> None:
        client.post("/v1/events", json=signal("a"))
        client.put("/v1/scenarios/grand-bargain", json=scenario())
        client.post("/v1/events", json=signal("b"))
        assert [e["position"] for e in listed(client)] == [1, 3]

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"limit": 0}, "limit"),
            ({"limit": 1001}, "limit"),
            ({"after": -1}, "after"),
            ({"kind": "tweet"}, "kind"),
            ({"occurred_from": "yesterday"}, "occurred_from"),
            ({"occurred_from": "2025-01-01T00:00:00"}, "occurred_from"),
        ],
    )
    def test_bad_query_parameters_are_422(
        self, client: Client, params: dict[str, object], field: str
    ) -> None:
        response = client.get("/v1/events", params=params)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == field


class TestGetOne:
    def test_unknown_id_is_404_problem(self, client: Client) -> None:
        response = client.get(f"/v1/events/{uuid4()}")
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["status"] == 404

    def test_malformed_id_is_a_client_error(self, client: Client) -> None:
        response = client.get("/v1/events/not-a-uuid")
        assert response.status_code in (404, 422)
        assert response.headers["content-type"].startswith("application/problem+json")


class TestRetraction:
    def test_appends_a_retraction_and_marks_the_event(self, client: Client) -> None:
        receipt = client.post("/v1/events", json=approval()).json()
        url = f"/v1/events/{receipt['event_id']}/retraction"
        response = client.post(url, json={"reason": "misreported"})
        assert response.status_code == 201
        retraction = response.json()
        assert retraction["event_id"] == receipt["event_id"]
        assert retraction["position"] == receipt["position"] + 1
        event = client.get(f"/v1/events/{receipt['event_id']}").json()
        assert event["retracted"] == {
            "recorded_at": retraction["recorded_at"],
            "reason": "misreported",
        }
        assert event["product"] == "H200"

    def test_retracting_twice_is_409(self, client: Client) -> None:
        receipt = client.post("/v1/events", json=approval()).json()
        url = f"/v1/events/{receipt['event_id']}/retraction"
        client.post(url, json={"reason": "one"})
        response = client.post(url, json={"reason": "two"})
        assert response.status_code == 409
        assert (
            client.get(f"/v1/events/{receipt['event_id']}").json()["retracted"]["reason"] == "one"
        )

    def test_retracting_an_unknown_event_is_404(self, client: Client) -> None:
        response = client.post(f"/v1/events/{uuid4()}/retraction", json={"reason": "x"})
        assert response.status_code == 404

    def test_a_reason_is_required(self, client: Client) -> None:
        receipt = client.post("/v1/events", json=approval()).json()
        response = client.post(f"/v1/events/{receipt['event_id']}/retraction", json={})
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "reason"
        assert "retracted" not in client.get(f"/v1/events/{receipt['event_id']}").json()


class TestIdempotencyKeyNamesARequest:
    def test_a_key_reused_for_a_longer_batch_is_409_and_stores_nothing(
        self, client: Client
    ) -> None:
        headers = {"Idempotency-Key": "k"}
        client.post("/v1/events/batch", json={"events": [signal("a")]}, headers=headers)
        body = {"events": [signal("a"), signal("b")]}
        assert client.post("/v1/events/batch", json=body, headers=headers).status_code == 409
        assert [e["label"] for e in listed(client)] == ["a"]

    def test_a_batch_key_reused_on_a_single_append_is_409(self, client: Client) -> None:
        headers = {"Idempotency-Key": "k"}
        client.post("/v1/events/batch", json={"events": [signal("a")]}, headers=headers)
        assert client.post("/v1/events", json=signal("a"), headers=headers).status_code == 409

    def test_keys_that_look_like_indexes_do_not_collide(self, client: Client) -> None:
        client.post(
            "/v1/events/batch", json={"events": [signal("a")]}, headers={"Idempotency-Key": "k"}
        )
        response = client.post("/v1/events", json=signal("z"), headers={"Idempotency-Key": "k#0"})
        assert response.status_code == 201
