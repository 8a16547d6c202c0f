"""An alert names scenarios that exist (issue 15, point 8): an unknown one is a 422
naming it at its index, and nothing is stored."""

from collections.abc import Iterator

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from service.settings import Settings
from service.web.app import create_app
from tests.e2e.helpers import SCENARIO

Client = TestClient[Litestar]
ALERT = {"condition": {"crosses": 0.5}, "url": "http://127.0.0.1:9/hook", "secret": "s"}


@pytest.fixture
def open_client(settings: Settings) -> Iterator[Client]:
    allowed = msgspec.structs.replace(settings, webhook_allow_private=True)
    with TestClient(create_app(allowed)) as client:
        yield client


def test_unknown_scenarios_are_named_and_nothing_is_stored(open_client: Client) -> None:
    assert open_client.put("/v1/scenarios/alpha", json=SCENARIO).status_code == 201
    body = {**ALERT, "scenario_ids": ["alpha", "no-such-one", "nor-this"]}
    refused = open_client.put("/v1/alerts/watch", json=body)
    assert refused.status_code == 422, refused.text
    errors = refused.json()["errors"]
    assert [e["field"] for e in errors] == ["scenario_ids[1]", "scenario_ids[2]"]
    assert "no scenario `no-such-one`" in errors[0]["message"]
    assert "no scenario `nor-this`" in errors[1]["message"]
    assert open_client.get("/v1/alerts/watch").status_code == 404
    assert open_client.get("/v1/alerts").json()["alerts"] == []


def test_a_change_to_an_unknown_scenario_keeps_the_stored_version(open_client: Client) -> None:
    assert open_client.put("/v1/scenarios/alpha", json=SCENARIO).status_code == 201
    created = open_client.put("/v1/alerts/watch", json={**ALERT, "scenario_ids": ["alpha"]})
    assert created.status_code == 201, created.text
    changed = open_client.put("/v1/alerts/watch", json={**ALERT, "scenario_ids": ["beta"]})
    assert changed.status_code == 422
    kept = open_client.get("/v1/alerts/watch").json()
    assert (kept["version"], kept["scenario_ids"]) == (1, ["alpha"])


def test_scenarios_that_exist_are_accepted(open_client: Client) -> None:
    for slug in ("alpha", "beta"):
        assert open_client.put(f"/v1/scenarios/{slug}", json=SCENARIO).status_code == 201
    body = {**ALERT, "scenario_ids": ["beta", "alpha"]}
    assert open_client.put("/v1/alerts/watch", json=body).status_code == 201
