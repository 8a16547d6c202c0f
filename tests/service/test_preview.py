"""``POST /v1/scenarios/{id}/preview`` (issue 18, point 1): a draft's answer through the
pipeline a stored version goes through, storing nothing, with the 422s of PUT."""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from litestar.testing import TestClient

from service.application import Tradewinds
from service.settings import Settings
from service.web.app import create_app
from tests.service.events_data import signal

Client = TestClient  # type: ignore[type-arg]
pytestmark = pytest.mark.parametrize("store", ["sqlite"], indirect=True)
NOW = datetime(2026, 3, 1, 12, 0, 30, tzinfo=UTC)
TICK = "2026-03-01T12:00:00Z"
OPENS = "2025-06-01T00:00:00Z"
FORECAST_FIELDS = ("version", "status", "probability", "logit", "interval80", "interval95")


@pytest.fixture
def api(settings: Settings) -> Iterator[Client]:
    with TestClient(create_app(settings, lambda: NOW)) as client:
        yield client


def tradewinds(client: Client) -> Tradewinds:
    found: Tradewinds = client.app.state.tradewinds
    return found


def rule(name: str, label: str, factor: float, **extra: Any) -> dict[str, Any]:
    match = {"kind": "signal", "where": {"label": label}}
    return {"name": name, "match": match, "bayes_factor": factor, **extra}


def definition(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "draft",
        "question": "will it?",
        "opens_at": OPENS,
        "deadline": "2027-01-01T00:00:00Z",
        "prior": 0.3,
        "rules": [
            rule("a", "a", 2.0, half_life_days=60.0, group="g", repeat_discount=0.5),
            rule("b", "b", 3.0, group="g", repeat_discount=0.5),
            rule("c", "c", 0.5, uncertainty=0.2),
        ],
    }
    body.update(changes)
    return body


def append(client: Client, label: str, occurred_at: str) -> str:
    response = client.post("/v1/events", json=signal(label, occurred_at=occurred_at))
    assert response.status_code == 201, response.text
    event_id: str = response.json()["event_id"]
    return event_id


def put(client: Client, slug: str, body: dict[str, Any]) -> None:
    response = client.put(f"/v1/scenarios/{slug}", json=body)
    assert response.status_code in (200, 201), response.text


def preview(client: Client, slug: str, body: dict[str, Any], **params: Any) -> dict[str, Any]:
    response = client.post(f"/v1/scenarios/{slug}/preview", json=body, params=params)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def get(client: Client, path: str, **params: Any) -> dict[str, Any]:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def some_events(client: Client) -> dict[str, str]:
    ids = {
        "early": append(client, "a", "2025-03-01T00:00:00Z"),  # before opens_at
        "a1": append(client, "a", "2025-07-01T00:00:00Z"),
        "b1": append(client, "b", "2025-08-01T00:00:00Z"),
        "a2": append(client, "a", "2025-12-01T00:00:00Z"),
        "c1": append(client, "c", "2026-01-15T00:00:00Z"),
        "gone": append(client, "c", "2026-02-01T00:00:00Z"),
    }
    append(client, "other", "2026-01-01T00:00:00Z")
    response = client.post(f"/v1/events/{ids['gone']}/retraction", json={"reason": "wrong"})
    assert response.status_code == 201, response.text
    return ids


def test_a_draft_equal_to_the_stored_definition_answers_as_the_stored_forecast(
    api: Client,
) -> None:
    some_events(api)
    body = definition(timing="uniform", timing_shape=2.0)
    put(api, "alpha", body)
    append(api, "b", "2026-02-10T00:00:00Z")  # after the version: reused matches see it
    drafted = preview(api, "alpha", body, step="P7D")
    stored = get(api, "/v1/forecasts/alpha")
    for name in FORECAST_FIELDS:
        assert drafted["forecast"][name] == stored[name], name
    assert drafted["forecast"]["as_of"] == stored["as_of"] == TICK
    assert drafted["forecast"]["contributions"] == stored["contributions"]
    assert drafted["forecast"]["drivers"] == stored["drivers"]
    history = get(api, "/v1/forecasts/alpha/history", step="P7D")
    assert drafted["history"]["points"] == history["points"]
    assert len(history["points"]) > 30
    ranged = {"from": "2025-09-01T00:00:00Z", "to": "2026-01-01T00:00:00Z", "step": "PT12H"}
    assert (
        preview(api, "alpha", body, **ranged)["history"]["points"]
        == get(api, "/v1/forecasts/alpha/history", **ranged)["points"]
    )


def test_an_extra_rule_moves_the_probability_as_the_closed_form_says(api: Client) -> None:
    some_events(api)
    plain = {"timing": "none", "rules": [rule("a", "a", 2.0)]}
    put(api, "alpha", definition(**plain))
    before = get(api, "/v1/forecasts/alpha")["probability"]
    extra = definition(timing="none", rules=[rule("a", "a", 2.0), rule("b", "b", 3.0)])
    drafted = preview(api, "alpha", extra)["forecast"]
    odds = 0.3 / 0.7 * 2.0 * 2.0  # a1 and a2; the early one is in the prior
    assert before == pytest.approx(odds / (1 + odds), abs=1e-12)
    assert drafted["probability"] == pytest.approx(odds * 3.0 / (1 + odds * 3.0), abs=1e-12)
    assert drafted["version"] == 2
    assert get(api, "/v1/forecasts/alpha")["probability"] == before


def test_each_rule_matches_what_the_stored_version_would_after_a_put(api: Client) -> None:
    ids = some_events(api)
    put(api, "alpha", definition(rules=[rule("a", "a", 2.0), rule("old", "c", 2.0)]))
    append(api, "a", "2026-02-20T00:00:00Z")
    draft = definition()  # rule a as stored (its matches reused), b and c scanned
    drafted = preview(api, "alpha", draft)
    put(api, "beta", draft)
    contributions = {
        (c["rule"], c["event_id"]): c["log_odds"]
        for c in get(api, "/v1/forecasts/beta")["contributions"]
        if c["kind"] == "event"
    }  # read first: the index has applied the PUT
    stored = tradewinds(api).eventlog.index.matches.scenarios["beta"].current
    retracted = tradewinds(api).eventlog.index.matches.retracted
    assert [r["name"] for r in drafted["rules"]] == ["a", "b", "c"]
    for found, matches in zip(drafted["rules"], stored.matches, strict=True):
        expected = [str(m.event_id) for m in matches if m.event_id not in retracted]
        assert [m["event_id"] for m in found["matches"]] == expected
        for m in found["matches"]:
            assert m["log_odds"] == contributions.get((found["name"], m["event_id"]), 0.0)
    shown = {m["event_id"]: m for r in drafted["rules"] for m in r["matches"]}
    assert ids["gone"] not in shown
    assert shown[ids["early"]]["log_odds"] == 0.0
    assert shown[ids["a1"]]["summary"] == "signal a"
    assert shown[ids["a1"]]["occurred_at"] == "2025-07-01T00:00:00Z"


@pytest.mark.parametrize("name", ["a", "b", "c"])
def test_if_one_more_is_the_probability_after_one_more_match(api: Client, name: str) -> None:
    some_events(api)
    body = definition(timing="uniform")  # the time term at the tick is the same either way
    put(api, "alpha", body)
    drafted = preview(api, "alpha", body, as_of=TICK)
    one_more = next(r["if_one_more"] for r in drafted["rules"] if r["name"] == name)
    before = get(api, "/v1/forecasts/alpha", as_of=TICK)["probability"]
    assert drafted["forecast"]["probability"] == before
    append(api, name, TICK)  # occurred at the tick: counted at as_of, not decayed
    after = get(api, "/v1/forecasts/alpha", as_of=TICK)["probability"]
    assert after != pytest.approx(before, abs=1e-6)
    assert one_more == pytest.approx(after, abs=1e-9)


def test_before_opens_counts_matching_events_before_opens_at_once(api: Client) -> None:
    some_events(api)
    append(api, "b", "2025-04-01T00:00:00Z")
    append(api, "c", "2025-05-01T00:00:00Z")
    append(api, "other", "2025-05-02T00:00:00Z")
    both = definition(rules=[rule("a", "a", 2.0), rule("also a", "a", 2.0), rule("b", "b", 2.0)])
    assert preview(api, "alpha", both)["before_opens"] == 2
    assert preview(api, "alpha", definition(opens_at="2025-12-15T00:00:00Z"))["before_opens"] == 6
    put(api, "alpha", both)
    assert get(api, "/v1/scenarios/alpha")["before_opens"] == 2


def test_nothing_is_stored(api: Client) -> None:
    some_events(api)
    put(api, "alpha", definition())
    head = tradewinds(api).eventlog.head()
    listed = get(api, "/v1/scenarios")
    preview(api, "alpha", definition(prior=0.6))
    drafted = preview(api, "new-one", definition(prior=0.6))  # an unknown id: a new draft
    assert drafted["forecast"]["version"] == 1
    assert tradewinds(api).eventlog.head() == head
    assert get(api, "/v1/scenarios") == listed
    assert get(api, "/v1/scenarios/alpha")["version"] == 1
    assert api.get("/v1/scenarios/new-one").status_code == 404
    assert api.get("/v1/forecasts/new-one").status_code == 404


def test_a_new_draft_without_opens_at_opens_now(api: Client) -> None:
    some_events(api)
    body = definition(timing="none")
    del body["opens_at"]
    drafted = preview(api, "fresh", body)
    assert drafted["before_opens"] == 5
    assert drafted["forecast"]["probability"] == pytest.approx(0.3, abs=1e-12)
    assert drafted["history"]["points"] == []


BAD_DRAFTS = [
    definition(deadline="2025-01-01T00:00:00Z"),
    definition(rules=[rule("a", "a", 2.0), rule("a", "b", 2.0)]),
    definition(prior=1.5),
    definition(prior="high"),
    definition(colour="blue"),
    {"title": "t"},
    definition(
        rules=[
            {"name": "x", "match": {"kind": "signal", "where": {"nope": 1}}, "bayes_factor": 2.0}
        ]
    ),
]


@pytest.mark.parametrize("slug", ["alpha", "unknown"])
def test_bad_drafts_get_the_422_of_put(api: Client, slug: str) -> None:
    put(api, "alpha", definition(opens_at=None))
    late = [definition(opens_at=None, deadline="2026-01-01T00:00:00Z")] if slug == "alpha" else []
    for bad in [*BAD_DRAFTS, *late]:
        previewed = api.post(f"/v1/scenarios/{slug}/preview", json=bad)
        stored = api.put(f"/v1/scenarios/{slug}", json=bad)
        assert stored.status_code == 422, stored.text
        assert previewed.status_code == 422, previewed.text
        assert previewed.headers["content-type"] == stored.headers["content-type"]
        assert _problem(previewed.json()) == _problem(stored.json())
    assert (
        api.post(
            f"/v1/scenarios/{slug}/preview",
            content=b"{",
            headers={"content-type": "application/json"},
        ).status_code
        == 400
    )


def _problem(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in ("instance", "request_id")}


def test_the_stored_resolution_applies_to_a_revision(api: Client) -> None:
    some_events(api)
    put(api, "alpha", definition())
    resolved = {"outcome": "yes", "resolved_at": "2026-02-15T00:00:00Z"}
    assert api.post("/v1/scenarios/alpha/resolution", json=resolved).status_code == 201
    revised = definition(prior=0.6)
    drafted = preview(api, "alpha", revised, step="P7D")["forecast"]
    assert (drafted["status"], drafted["probability"]) == ("resolved_yes", 1.0)
    assert drafted["explained"]["closed_at"] == "2026-02-15T00:00:00Z"
    put(api, "alpha", revised)
    stored = get(api, "/v1/forecasts/alpha")
    assert drafted["explained"] == stored["explained"]
    assert drafted["contributions"] == stored["contributions"]
    assert preview(api, "new-one", revised)["forecast"]["status"] == "open"


@pytest.mark.parametrize(
    ("cap", "status", "words"),
    [
        ({"read_max_matches": 2}, 422, "TRADEWINDS_READ_MAX_MATCHES"),
        ({"heavy_read_budget_s": 0.0}, 503, "TRADEWINDS_HEAVY_READ_BUDGET_S"),
        ({"history_max_cost": 1.0}, 422, "TRADEWINDS_HISTORY_MAX_COST"),
    ],
)
def test_a_draft_over_the_read_caps_is_refused_as_a_forecast_read_is(
    settings: Settings, cap: dict[str, Any], status: int, words: str
) -> None:
    with TestClient(create_app(msgspec.structs.replace(settings, **cap), lambda: NOW)) as client:
        some_events(client)
        put(client, "alpha", definition())
        path = "/v1/forecasts/alpha/history" if "HISTORY" in words else "/v1/forecasts/alpha"
        read = client.get(path)
        previewed = client.post("/v1/scenarios/alpha/preview", json=definition(prior=0.5))
        assert read.status_code == previewed.status_code == status, previewed.text
        assert words in previewed.text
        assert _problem(previewed.json())["title"] == _problem(read.json())["title"]


def test_a_revision_opens_when_the_stored_scenario_was_first_recorded(
    settings: Settings,
) -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    with TestClient(create_app(settings, lambda: now[0])) as client:
        body = definition(timing="none")
        del body["opens_at"]
        put(client, "alpha", body)
        now[0] = NOW
        revised = preview(client, "alpha", {**body, "prior": 0.5}, step="P1D")
        fresh = preview(client, "fresh", {**body, "prior": 0.5}, step="P1D")
    assert revised["history"]["points"][0]["t"] == "2026-01-01T00:00:00Z"
    assert len(revised["history"]["points"]) == 60
    assert fresh["history"]["points"] == []
