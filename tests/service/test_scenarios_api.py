"""The Scenarios section of the API, through litestar's test client."""

from typing import Any

import pytest
from litestar.testing import TestClient

from tests.service.events_data import scenario

Client = TestClient  # type: ignore[type-arg]


def rule(name: str = "r", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name,
        "match": {"kind": "signal", "where": {"label": "x"}},
        "bayes_factor": 2.0,
    }
    body.update(changes)
    return body


class TestDefine:
    def test_first_version_is_201_version_1(self, client: Client) -> None:
        response = client.put("/v1/scenarios/grand-bargain", json=scenario())
        assert response.status_code == 201
        assert response.json() == {"id": "grand-bargain", "version": 1}

    def test_a_revision_is_200_with_the_next_version(self, client: Client) -> None:
        client.put("/v1/scenarios/grand-bargain", json=scenario())
        response = client.put("/v1/scenarios/grand-bargain", json=scenario(prior=0.2))
        assert response.status_code == 200
        assert response.json() == {"id": "grand-bargain", "version": 2}

    def test_the_same_definition_again_makes_no_new_version(self, client: Client) -> None:
        client.put("/v1/scenarios/grand-bargain", json=scenario())
        response = client.put("/v1/scenarios/grand-bargain", json=scenario())
        assert response.status_code == 200
        assert response.json()["version"] == 1
        versions = client.get("/v1/scenarios/grand-bargain/versions").json()["versions"]
        assert len(versions) == 1

    def test_reads_back_the_current_definition(self, client: Client) -> None:
        client.put("/v1/scenarios/grand-bargain", json=scenario())
        client.put("/v1/scenarios/grand-bargain", json=scenario(prior=0.25, tags=["chips"]))
        body = client.get("/v1/scenarios/grand-bargain").json()
        assert body["id"] == "grand-bargain"
        assert body["version"] == 2
        assert body["definition"]["prior"] == 0.25
        assert body["definition"]["tags"] == ["chips"]
        assert body["resolution"] is None
        assert body["first_recorded_at"] <= body["recorded_at"]

    def test_versions_keep_every_definition_in_order(self, client: Client) -> None:
        for prior in (0.1, 0.2, 0.3):
            client.put("/v1/scenarios/grand-bargain", json=scenario(prior=prior))
        versions = client.get("/v1/scenarios/grand-bargain/versions").json()["versions"]
        assert [v["version"] for v in versions] == [1, 2, 3]
        assert [v["definition"]["prior"] for v in versions] == [0.1, 0.2, 0.3]
        assert [v["position"] for v in versions] == sorted(v["position"] for v in versions)

    def test_lists_every_scenario(self, client: Client) -> None:
        client.put("/v1/scenarios/zeta-one", json=scenario())
        client.put("/v1/scenarios/alpha-two", json=scenario())
        ids = [s["id"] for s in client.get("/v1/scenarios").json()["scenarios"]]
        assert ids == ["alpha-two", "zeta-one"]

    def test_definition_defaults_are_applied(self, client: Client) -> None:
        client.put("/v1/scenarios/grand-bargain", json=scenario(rules=[rule()]))
        definition = client.get("/v1/scenarios/grand-bargain").json()["definition"]
        assert definition.get("timing", "uniform") == "uniform"
        assert definition.get("prior_strength", 10.0) == 10.0
        assert definition["rules"][0].get("uncertainty", 0.35) == 0.35

    def test_unknown_scenario_is_404(self, client: Client) -> None:
        assert client.get("/v1/scenarios/no-such-thing").status_code == 404
        assert client.get("/v1/scenarios/no-such-thing/versions").status_code == 404


class TestDefineRejects:
    @pytest.mark.parametrize("slug", ["ab", "Upper-case", "-leading-dash", "x" * 81, "sp ace"])
    def test_a_bad_slug(self, client: Client, slug: str) -> None:
        response = client.put(f"/v1/scenarios/{slug}", json=scenario())
        assert response.status_code in (404, 422)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert client.get("/v1/scenarios").json()["scenarios"] == []

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"prior": 0}, "prior"),
            ({"prior": 1}, "prior"),
            ({"prior_strength": 0}, "prior_strength"),
            ({"timing": "exponential"}, "timing"),
            ({"deadline": "2026-06-30T00:00:00"}, "deadline"),
            ({"deadline": "2025-08-01T00:00:00Z"}, "deadline"),
            ({"rules": [rule(bayes_factor=0)]}, "rules[0].bayes_factor"),
            ({"rules": [rule(repeat_discount=0)]}, "rules[0].repeat_discount"),
            ({"rules": [rule(uncertainty=-1)]}, "rules[0].uncertainty"),
            ({"rules": [rule(), rule()]}, "rules[1].name"),
            (
                {"rules": [rule(match={"kind": "signal", "where": {"product": "H20"}})]},
                "rules[0].match.where.product",
            ),
            (
                {
                    "rules": [
                        rule(
                            match={
                                "kind": ["export_approval", "purchase_ban"],
                                "where": {"category": "ai_chip"},
                            }
                        )
                    ]
                },
                "rules[0].match.where.category",
            ),
            (
                {"rules": [rule(match={"kind": "signal", "where": {"label": {"lt": "x"}}})]},
                "rules[0].match.where.label",
            ),
            ({"bogus": 1}, "bogus"),
        ],
    )
    def test_a_bad_definition_is_422_naming_the_field(
        self, client: Client, changes: dict[str, Any], field: str
    ) -> None:
        response = client.put("/v1/scenarios/grand-bargain", json=scenario(**changes))
        assert response.status_code == 422, response.text
        assert field in [e["field"] for e in response.json()["errors"]]
        assert client.get("/v1/scenarios/grand-bargain").status_code == 404

    def test_a_bad_revision_keeps_the_current_version(self, client: Client) -> None:
        client.put("/v1/scenarios/grand-bargain", json=scenario())
        bad = scenario(rules=[rule(), rule()])
        assert client.put("/v1/scenarios/grand-bargain", json=bad).status_code == 422
        assert client.get("/v1/scenarios/grand-bargain").json()["version"] == 1

    def test_every_problem_is_reported_at_once(self, client: Client) -> None:
        rules = [
            rule("a", match={"kind": "signal", "where": {"nope": 1}}),
            rule("a"),
        ]
        response = client.put("/v1/scenarios/grand-bargain", json=scenario(rules=rules))
        fields = {e["field"] for e in response.json()["errors"]}
        assert fields == {"rules[0].match.where.nope", "rules[1].name"}


class TestResolution:
    def test_resolving_answers_201_and_shows_on_the_scenario(self, client: Client) -> None:
        client.put("/v1/scenarios/grand-bargain", json=scenario())
        body = {"outcome": "no", "resolved_at": "2026-06-30T00:00:00Z", "note": "no deal"}
        response = client.post("/v1/scenarios/grand-bargain/resolution", json=body)
        assert response.status_code == 201
        receipt = response.json()
        assert set(receipt) == {"position", "recorded_at"}
        resolution = client.get("/v1/scenarios/grand-bargain").json()["resolution"]
        assert resolution["outcome"] == "no"
        assert resolution["note"] == "no deal"
        assert resolution["position"] == receipt["position"]

    def test_resolving_twice_is_409(self, client: Client) -> None:
        client.put("/v1/scenarios/grand-bargain", json=scenario())
        body = {"outcome": "yes", "resolved_at": "2026-01-01T00:00:00Z"}
        client.post("/v1/scenarios/grand-bargain/resolution", json=body)
        again = client.post(
            "/v1/scenarios/grand-bargain/resolution", json={**body, "outcome": "no"}
        )
        assert again.status_code == 409
        outcome = client.get("/v1/scenarios/grand-bargain").json()["resolution"]["outcome"]
        assert outcome == "yes"

    def test_resolving_an_unknown_scenario_is_404(self, client: Client) -> None:
        body = {"outcome": "yes", "resolved_at": "2026-01-01T00:00:00Z"}
        response = client.post("/v1/scenarios/no-such-thing/resolution", json=body)
        assert response.status_code == 404

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"outcome": "maybe", "resolved_at": "2026-01-01T00:00:00Z"}, "outcome"),
            ({"outcome": "yes"}, "resolved_at"),
            ({"outcome": "yes", "resolved_at": "2026-01-01T00:00:00"}, "resolved_at"),
        ],
    )
    def test_a_bad_resolution_is_422(
        self, client: Client, body: dict[str, Any], field: str
    ) -> None:
        client.put("/v1/scenarios/grand-bargain", json=scenario())
        response = client.post("/v1/scenarios/grand-bargain/resolution", json=body)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == field
        assert client.get("/v1/scenarios/grand-bargain").json()["resolution"] is None
