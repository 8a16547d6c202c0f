"""Issue 15, point 5, through HTTP: a closed forecast (expired at its deadline,
resolved, annulled) explains itself as it stood at the last second it was open;
every contribution says what it did in percentage points, which add up to the
probability explained; an event's effect then is the history's jump at its time."""

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import TestClient

from service.settings import Settings
from service.web.app import create_app
from tests.service.events_data import signal

Client = TestClient  # type: ignore[type-arg]
OPENS = datetime(2025, 1, 1, tzinfo=UTC)
DEADLINE = datetime(2025, 12, 31, tzinfo=UTC)
NOW = datetime(2026, 3, 1, 12, 0, 30, tzinfo=UTC)
EFFECTS = ("pp", "log_odds_then", "pp_then")


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture
def api(settings: Settings) -> Iterator[Client]:
    with TestClient(create_app(settings, lambda: NOW)) as client:
        yield client


def define(client: Client, slug: str, timing: str = "uniform") -> None:
    rules = [
        {"name": "up", "match": {"kind": "signal", "where": {"label": "up"}},
         "bayes_factor": 3.0, "repeat_discount": 0.7},
        {"name": "fading", "match": {"kind": "signal", "where": {"label": "fading"}},
         "bayes_factor": 0.4, "half_life_days": 30},
    ]  # fmt: skip
    body = {
        "title": slug,
        "question": f"{slug}?",
        "opens_at": iso(OPENS),
        "deadline": iso(DEADLINE),
        "prior": 0.3,
        "timing": timing,
        "rules": rules,
    }
    response = client.put(f"/v1/scenarios/{slug}", json=body)
    assert response.status_code == 201, response.text
    events = [
        signal(
            label, occurred_at=iso(OPENS + timedelta(days=day, hours=7)), summary=f"{label} {day}"
        )
        for label, day in [("up", 10), ("fading", 40), ("up", 90), ("fading", 200), ("up", 300)]
    ]
    response = client.post("/v1/events/batch", json={"events": events})
    assert response.status_code == 201, response.text


def resolve(client: Client, slug: str, outcome: str, resolved_at: datetime) -> None:
    body = {"outcome": outcome, "resolved_at": iso(resolved_at)}
    response = client.post(f"/v1/scenarios/{slug}/resolution", json=body)
    assert response.status_code == 201, response.text


def forecast(client: Client, slug: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"/v1/forecasts/{slug}", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_adds_up(contributions: list[dict[str, Any]], logit: float, probability: float) -> None:
    assert contributions[0]["kind"] == "prior"
    assert contributions[-1]["kind"] == "time"
    assert math.fsum(c["log_odds"] for c in contributions) == pytest.approx(logit, abs=1e-9)
    assert math.fsum(c["pp"] for c in contributions) == pytest.approx(100 * probability, abs=1e-9)
    for c in contributions[1:-1]:
        assert set(EFFECTS) <= set(c)


def assert_explained_as_open_at(client: Client, slug: str, body: dict[str, Any]) -> None:
    """The explanation is the forecast served at ``explained.at``, when it was open."""
    explained = body["explained"]
    assert explained["probability"] == pytest.approx(1 / (1 + math.exp(-explained["logit"])))
    assert_adds_up(body["contributions"], explained["logit"], explained["probability"])
    then = forecast(client, slug, as_of=explained["at"])
    assert then["status"] == "open"
    assert "explained" not in then
    assert (then["probability"], then["logit"]) == (explained["probability"], explained["logit"])
    assert then["contributions"] == body["contributions"]


@pytest.mark.parametrize("timing", ["uniform", "none"])
def test_expired_at_its_deadline_is_explained_at_the_last_second_before(
    api: Client, timing: str
) -> None:
    define(api, "ended", timing)
    body = forecast(api, "ended")
    assert (body["status"], body["probability"], body["logit"]) == ("expired", 0.0, None)
    assert body["explained"]["at"] == iso(DEADLINE - timedelta(seconds=1))
    assert body["explained"]["closed_at"] == iso(DEADLINE)
    assert body["explained"]["closed_as"] == "expired"
    assert len(body["contributions"]) == body["contributions_total"] == 7
    assert_explained_as_open_at(api, "ended", body)


def test_resolved_is_explained_just_before_its_resolution_without_later_events(
    api: Client,
) -> None:
    define(api, "settled")
    resolved_at = OPENS + timedelta(days=150)
    resolve(api, "settled", "yes", resolved_at)
    body = forecast(api, "settled")
    assert (body["status"], body["probability"]) == ("resolved_yes", 1.0)
    assert body["explained"]["at"] == iso(resolved_at - timedelta(seconds=1))
    assert body["explained"]["closed_as"] == "resolved_yes"
    events = [c["summary"] for c in body["contributions"] if c["kind"] == "event"]
    assert events == ["up 10", "fading 40", "up 90"]
    assert_explained_as_open_at(api, "settled", body)


@pytest.mark.parametrize(("outcome", "status"), [("no", "expired"), ("annulled", "expired")])
def test_resolved_after_its_deadline_is_explained_before_the_deadline(
    api: Client, outcome: str, status: str
) -> None:
    """The demo's grand bargain: "no" on the day after the deadline."""
    define(api, "late")
    resolve(api, "late", outcome, DEADLINE + timedelta(days=1))
    body = forecast(api, "late")
    assert body["explained"]["closed_at"] == iso(DEADLINE)
    assert body["explained"]["closed_as"] == status
    assert_explained_as_open_at(api, "late", body)


def test_annulled_is_explained_too(api: Client) -> None:
    define(api, "void")
    resolve(api, "void", "annulled", OPENS + timedelta(days=100))
    body = forecast(api, "void")
    assert (body["status"], body["probability"]) == ("annulled", None)
    assert body["explained"]["closed_as"] == "annulled"
    assert_explained_as_open_at(api, "void", body)


def test_a_page_and_what_it_leaves_out_add_up_in_pp(api: Client) -> None:
    define(api, "paged")
    whole = forecast(api, "paged")["contributions"]
    for known in (None, iso(NOW)):
        params = {"contributions_limit": 2, "contributions_offset": 1}
        body = forecast(api, "paged", **params, **({"known_at": known} if known else {}))
        omitted = body["contributions_omitted"]
        assert omitted["count"] == 3
        listed = math.fsum(c["pp"] for c in body["contributions"])
        probability = body["explained"]["probability"]
        assert listed + omitted["pp"] == pytest.approx(100 * probability, abs=1e-9)
        for mine, full in zip(body["contributions"][1:-1], whole[2:4], strict=True):
            assert mine == {**full, "pp_then": pytest.approx(full["pp_then"], abs=1e-12)}


def test_open_contributions_add_up_in_pp_to_the_served_probability(api: Client) -> None:
    define(api, "live")
    body = forecast(api, "live", as_of=iso(OPENS + timedelta(days=250)))
    assert body["status"] == "open"
    assert "explained" not in body
    assert_adds_up(body["contributions"], body["logit"], body["probability"])
    drivers = body["drivers"]
    assert drivers
    assert not any(key in d for d in drivers for key in EFFECTS)


def test_an_events_effect_then_is_the_jump_of_its_history(api: Client) -> None:
    """Two history points a second apart, around each event: the logit jumps by
    ``log_odds_then`` and the probability by ``pp_then`` (the one second of decay
    and of the time term between them moves the logit by under 1e-6)."""
    define(api, "jumps")
    body = forecast(api, "jumps", as_of=iso(OPENS + timedelta(days=320)))
    events = [c for c in body["contributions"] if c["kind"] == "event"]
    assert len(events) == 5
    for event in events:
        occurred = datetime.fromisoformat(event["occurred_at"])
        params = {"from": iso(occurred - timedelta(seconds=1)), "to": iso(occurred), "step": "PT1S"}
        response = api.get("/v1/forecasts/jumps/history", params=params)
        before, after = (p["probability"] for p in response.json()["points"])
        jump = math.log(after / (1 - after)) - math.log(before / (1 - before))
        assert event["log_odds_then"] == pytest.approx(jump, abs=1e-6)
        assert event["pp_then"] == pytest.approx(100 * (after - before), abs=1e-5)
        if event["rule"] == "fading":
            assert abs(event["log_odds"]) < abs(event["log_odds_then"])
