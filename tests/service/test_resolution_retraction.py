"""A resolution is validated (``resolved_at`` in [opens_at, now]) and, when wrong,
retracted by appending a correction: the scenario is unresolved again from that
record on, past answers (``known_at`` before it) still show the old resolution,
and it can be resolved anew."""

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import TestClient

from service.settings import Settings
from service.web.app import create_app
from tests.service.events_data import scenario

Client = TestClient  # type: ignore[type-arg]
SLUG = "grand-bargain"
RESOLUTION = f"/v1/scenarios/{SLUG}/resolution"
RETRACTION = f"{RESOLUTION}/retraction"
OPENS = "2025-09-01T00:00:00Z"
DEADLINE = "2026-06-30T00:00:00Z"


class Clock:
    """The service clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
def api(settings: Settings, clock: Clock) -> Iterator[Client]:
    with TestClient(create_app(settings, clock)) as client:
        client.put(f"/v1/scenarios/{SLUG}", json=scenario(opens_at=OPENS, deadline=DEADLINE))
        yield client


def resolve(api: Client, outcome: str = "yes", at: str = "2026-02-01T00:00:00Z") -> Any:
    return api.post(RESOLUTION, json={"outcome": outcome, "resolved_at": at})


def retract(api: Client, reason: str = "resolved on a rumour") -> Any:
    return api.post(RETRACTION, json={"reason": reason})


def forecast(api: Client, **params: str) -> dict[str, Any]:
    response = api.get(f"/v1/forecasts/{SLUG}", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


class TestResolvedAtIsValidated:
    def test_before_opens_at_is_422_naming_the_range_and_stores_nothing(self, api: Client) -> None:
        response = resolve(api, at="2024-09-01T00:00:00Z")
        assert response.status_code == 422
        (error,) = response.json()["errors"]
        assert error["field"] == "resolved_at"
        assert "2025-09-01T00:00:00Z" in error["message"]
        assert "2026-03-01T12:00:00Z" in error["message"]
        assert api.get(f"/v1/scenarios/{SLUG}").json()["resolution"] is None
        assert forecast(api)["status"] == "open"

    def test_in_the_future_is_422(self, api: Client) -> None:
        response = resolve(api, at="2026-03-01T12:00:01Z")
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "resolved_at"
        assert api.get(f"/v1/scenarios/{SLUG}").json()["resolution"] is None

    def test_both_ends_of_the_range_are_allowed(self, api: Client, clock: Clock) -> None:
        assert resolve(api, at=OPENS).status_code == 201
        assert retract(api).status_code == 201
        assert resolve(api, at="2026-03-01T12:00:00Z").status_code == 201

    def test_without_opens_at_the_first_version_opens_it(self, api: Client) -> None:
        body = scenario(opens_at=None, deadline=DEADLINE)
        del body["opens_at"]
        api.put("/v1/scenarios/unopened", json=body)
        early = {"outcome": "no", "resolved_at": "2026-02-28T00:00:00Z"}
        response = api.post("/v1/scenarios/unopened/resolution", json=early)
        assert response.status_code == 422
        assert "2026-03-01T12:00:00Z" in response.json()["errors"][0]["message"]


class TestRetraction:
    def test_answers_201_and_the_scenario_is_open_again(self, api: Client, clock: Clock) -> None:
        assert resolve(api).status_code == 201
        assert forecast(api)["status"] == "resolved_yes"
        clock.now += timedelta(hours=1)
        response = retract(api)
        assert response.status_code == 201
        receipt = response.json()
        assert set(receipt) == {"position", "recorded_at"}
        now = forecast(api)
        assert (now["status"], now["probability"] is not None) == ("open", True)
        assert now["probability"] < 1.0
        view = api.get(f"/v1/scenarios/{SLUG}").json()
        assert view["resolution"] is None
        (retracted,) = view["retracted_resolutions"]
        assert retracted["outcome"] == "yes"
        assert retracted["retracted"]["reason"] == "resolved on a rumour"
        assert retracted["retracted"]["position"] == receipt["position"]

    def test_known_at_before_the_retraction_still_shows_the_resolution(
        self, api: Client, clock: Clock
    ) -> None:
        resolved = resolve(api).json()
        clock.now += timedelta(hours=1)
        retracted = retract(api).json()
        before = forecast(api, known_at=resolved["recorded_at"])
        assert (before["status"], before["probability"]) == ("resolved_yes", 1.0)
        assert before["position"] == resolved["position"]
        at_it = forecast(api, known_at=retracted["recorded_at"])
        assert at_it["status"] == "open"
        assert at_it["position"] == retracted["position"]

    def test_past_the_deadline_the_scenario_is_expired_again(
        self, api: Client, clock: Clock
    ) -> None:
        clock.now = datetime(2026, 8, 1, tzinfo=UTC)
        resolve(api, at="2026-05-01T00:00:00Z")
        assert retract(api).status_code == 201
        now = forecast(api)
        assert (now["status"], now["probability"]) == ("expired", 0.0)

    def test_it_can_be_resolved_anew_and_retracted_again(self, api: Client, clock: Clock) -> None:
        first = resolve(api, "yes").json()
        clock.now += timedelta(hours=1)
        retract(api, "wrong outcome")
        clock.now += timedelta(hours=1)
        again = resolve(api, "no")
        assert again.status_code == 201
        assert forecast(api)["status"] == "resolved_no"
        assert forecast(api, known_at=first["recorded_at"])["status"] == "resolved_yes"
        assert resolve(api, "annulled").status_code == 409
        clock.now += timedelta(hours=1)
        assert retract(api, "still wrong").status_code == 201
        view = api.get(f"/v1/scenarios/{SLUG}").json()
        assert view["resolution"] is None
        reasons = [(r["outcome"], r["retracted"]["reason"]) for r in view["retracted_resolutions"]]
        assert reasons == [("yes", "wrong outcome"), ("no", "still wrong")]
        assert forecast(api)["status"] == "open"

    def test_nothing_to_retract_is_409(self, api: Client) -> None:
        never = retract(api)
        assert never.status_code == 409
        assert "never resolved" in never.json()["detail"]
        resolve(api)
        assert retract(api).status_code == 201
        twice = retract(api)
        assert twice.status_code == 409
        assert "retracted" in twice.json()["detail"]

    def test_an_unknown_scenario_is_404(self, api: Client) -> None:
        response = api.post(
            "/v1/scenarios/no-such-thing/resolution/retraction", json={"reason": "x"}
        )
        assert response.status_code == 404

    def test_a_reason_is_required(self, api: Client) -> None:
        resolve(api)
        response = api.post(RETRACTION, json={"reason": ""})
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "reason"
        assert api.get(f"/v1/scenarios/{SLUG}").json()["resolution"] is not None


def test_the_history_follows_the_resolution_in_force(api: Client, clock: Clock) -> None:
    resolved = resolve(api, at="2026-01-01T00:00:00Z").json()
    clock.now += timedelta(hours=1)
    retract(api)
    params = {"from": "2025-12-31T00:00:00Z", "to": "2026-01-02T00:00:00Z", "step": "P1D"}
    points = api.get(f"/v1/forecasts/{SLUG}/history", params=params).json()["points"]
    assert all(p["probability"] < 1.0 for p in points)
    known = {**params, "known_at": resolved["recorded_at"]}
    points = api.get(f"/v1/forecasts/{SLUG}/history", params=known).json()["points"]
    assert [p["probability"] for p in points][1:] == [1.0, 1.0]


def test_a_restarted_service_reads_the_corrections_back(
    api: Client, clock: Clock, settings: Settings
) -> None:
    resolve(api, "yes")
    clock.now += timedelta(hours=1)
    retract(api, "wrong")
    clock.now += timedelta(hours=1)
    resolve(api, "no")
    before = api.get(f"/v1/scenarios/{SLUG}").json()
    with TestClient(create_app(settings, clock)) as restarted:
        assert restarted.get(f"/v1/scenarios/{SLUG}").json() == before
        assert restarted.get(f"/v1/forecasts/{SLUG}").json()["status"] == "resolved_no"


def test_backtests_score_the_resolution_in_force(api: Client, clock: Clock) -> None:
    def scored() -> list[tuple[str, int]]:
        window = {"from": "2025-09-01T00:00:00Z", "to": "2026-02-20T00:00:00Z", "step": "P15D"}
        response = api.post("/v1/backtests", json={**window, "scenario_ids": [SLUG]})
        assert response.status_code == 202, response.text
        location = response.headers["location"]
        deadline = time.monotonic() + 30
        while (body := api.get(location).json())["status"] not in ("done", "failed"):
            assert time.monotonic() < deadline, body
            time.sleep(0.05)
        assert body["status"] == "done", body
        return [(s["scenario_id"], s["outcome"]) for s in body["scores"]["scenarios"]]

    resolve(api, "yes")
    assert scored() == [(SLUG, "yes")]
    clock.now += timedelta(hours=1)
    retract(api)
    clock.now += timedelta(hours=1)
    assert scored() == []
    resolve(api, "no")
    clock.now += timedelta(hours=1)
    assert scored() == [(SLUG, "no")]
