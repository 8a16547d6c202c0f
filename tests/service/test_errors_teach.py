"""Every 422 teaches (issue 15, point 4): through the real app, each message says
what is allowed, and the field paths point where they did."""

from typing import Any

import pytest
from litestar.testing import TestClient

from tests.service.events_data import scenario, signal

Client = TestClient  # type: ignore[type-arg]
pytestmark = pytest.mark.parametrize("store", ["sqlite"], indirect=True)
SLUG_WORDS = (
    "must be 3 to 80 characters: lowercase letters, digits and hyphens, "
    "starting with a letter or digit"
)


def ban(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "purchase_ban",
        "occurred_at": "2025-01-01T00:00:00Z",
        "summary": "CAC bans Nvidia chips",
        "authority": "CAC",
        "target_company": "Nvidia",
        "scope": "formal",
    }
    body.update(changes)
    return body


def errors(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 422, response.text
    found: list[dict[str, str]] = response.json()["errors"]
    return found


def with_rule(match: dict[str, Any]) -> dict[str, Any]:
    return scenario(rules=[{"name": "r", "match": match, "bayes_factor": 2.0}])


def test_an_unknown_rule_field_names_the_closest_field(client: Client) -> None:
    body = with_rule({"kind": "purchase_ban", "where": {"company": "Nvidia"}})
    (error,) = errors(client.put("/v1/scenarios/tech-deal", json=body))
    assert error["field"] == "rules[0].match.where.company"
    assert error["message"].startswith(
        "kind `purchase_ban` has no field `company`; did you mean `target_company`? "
        "Its fields: target_company, authority, product, scope"
    )
    assert client.get("/v1/scenarios/tech-deal").status_code == 404


def test_an_unknown_event_field_names_the_kinds_fields(client: Client) -> None:
    (error,) = errors(client.post("/v1/events", json=ban(company="Nvidia")))
    assert error["field"] == "company"
    assert error["message"].startswith(
        "kind `purchase_ban` has no field `company`; did you mean `target_company`? Its fields: "
    )


def test_a_missing_field_is_reported_with_the_unknown_one(client: Client) -> None:
    event = ban(company="Nvidia")
    del event["authority"]
    batch = {"events": [signal(), event]}
    found = errors(client.post("/v1/events/batch", json=batch))
    assert [e["field"] for e in found] == ["events[1].company", "events[1].authority"]
    assert "requires the field `authority`" in found[1]["message"]
    assert client.get("/v1/events").json()["events"] == []


def test_a_missing_scenario_field_is_reported_with_the_unknown_one(client: Client) -> None:
    body = scenario(titel="typo")
    del body["title"]
    found = errors(client.put("/v1/scenarios/tech-deal", json=body))
    assert [e["field"] for e in found] == ["titel", "title"]
    assert "did you mean `title`?" in found[0]["message"]


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (ban(scope="formall"), "scope", "`scope` must be one of: advisory, formal; got `formall`"),
        (ban(kind="purchase_bam"), "kind", "did you mean `purchase_ban`?"),
        (ban(occurred_at="yesterday"), "occurred_at", "must be an RFC 3339 time with an offset"),
        (ban(authority=5), "authority", "must be a string; got an integer"),
        (ban(summary=""), "summary", "must be a string of at least 1 character"),
    ],
)
def test_an_event_value_error_says_what_is_allowed(
    client: Client, body: dict[str, Any], field: str, message: str
) -> None:
    (error,) = errors(client.post("/v1/events", json=body))
    assert error["field"] == field
    assert message in error["message"]


def test_a_rule_enum_lists_the_values(client: Client) -> None:
    body = with_rule({"kind": "purchase_ban", "where": {"scope": {"in": ["formal", "formall"]}}})
    (error,) = errors(client.put("/v1/scenarios/tech-deal", json=body))
    assert error["field"] == "rules[0].match.where.scope"
    assert error["message"] == (
        "`scope` must be one of: advisory, formal; got `formall`; did you mean `formal`?"
    )


def test_an_unknown_operator_points_at_its_field(client: Client) -> None:
    body = with_rule({"kind": "purchase_ban", "where": {"scope": {"equals": "formal"}}})
    (error,) = errors(client.put("/v1/scenarios/tech-deal", json=body))
    assert error["field"] == "rules[0].match.where.scope"
    assert "got `equals`" in error["message"]


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("PUT", "/v1/scenarios/Tech_Deal", "scenario_id"),
        ("GET", "/v1/scenarios/ab", "scenario_id"),
        ("PUT", "/v1/alerts/Bad_Alert", "alert_id"),
    ],
)
def test_a_bad_slug_says_the_rule_in_words(
    client: Client, method: str, path: str, field: str
) -> None:
    alert = {"condition": {"crosses": 0.5}, "url": "http://127.0.0.1:9/", "secret": "s"}
    body = scenario() if "scenarios" in path else alert
    (error,) = errors(client.request(method, path, json=body if method == "PUT" else None))
    assert error == {"field": field, "message": SLUG_WORDS}


def test_an_unknown_kind_in_a_query_lists_the_kinds(client: Client) -> None:
    (error,) = errors(client.get("/v1/events", params={"kind": "purchase_bam"}))
    assert error["field"] == "kind"
    assert error["message"].startswith("`kind` must be one of: ")
    assert error["message"].endswith("did you mean `purchase_ban`?")
