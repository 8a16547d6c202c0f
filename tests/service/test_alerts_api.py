"""Alerts through the API: define, change, list without secrets, delete (an event too),
and the checks on webhook targets and conditions."""

import math
from collections.abc import Iterator

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from service.settings import Settings
from service.web.app import create_app
from service.workers import webhooks
from tests.e2e.helpers import SCENARIO, signal
from tests.e2e.receiver import Receiver

URL = "http://127.0.0.1:9/hook"


def alert(**changes: object) -> dict[str, object]:
    return {"condition": {"crosses": 0.5}, "url": URL, "secret": "s", **changes}


@pytest.fixture
def open_client(settings: Settings) -> Iterator[TestClient[Litestar]]:
    allowed = msgspec.structs.replace(settings, webhook_allow_private=True)
    with TestClient(create_app(allowed)) as client:
        yield client


def test_define_again_change_list_and_read(open_client: TestClient[Litestar]) -> None:
    created = open_client.put("/v1/alerts/watch-all", json=alert())
    assert created.status_code == 201, created.text
    assert created.json()["version"] == 1
    assert created.json()["scenario_ids"] is None
    same = open_client.put("/v1/alerts/watch-all", json=alert())
    assert (same.status_code, same.json()["version"]) == (200, 1)
    changed = open_client.put(
        "/v1/alerts/watch-all",
        json=alert(condition={"moves_by": 0.1, "within": "P1D"}, secret="t"),
    )
    assert (changed.status_code, changed.json()["version"]) == (200, 2)
    listed = open_client.get("/v1/alerts").json()["alerts"]
    assert [a["id"] for a in listed] == ["watch-all"]
    assert listed[0]["condition"] == {"moves_by": 0.1, "within": "P1D"}
    for answer in (created, same, changed, open_client.get("/v1/alerts/watch-all")):
        assert "secret" not in answer.json()
        assert '"s"' not in answer.text


def test_a_deletion_is_recorded_and_a_later_put_defines_it_again(
    open_client: TestClient[Litestar],
) -> None:
    assert open_client.put("/v1/alerts/gone", json=alert()).status_code == 201
    deleted = open_client.delete("/v1/alerts/gone")
    assert deleted.status_code == 204
    assert open_client.get("/v1/alerts/gone").status_code == 404
    assert open_client.delete("/v1/alerts/gone").status_code == 404
    assert open_client.get("/v1/alerts").json()["alerts"] == []
    assert open_client.get("/v1/alerts/gone/deliveries").json() == {"deliveries": []}
    again = open_client.put("/v1/alerts/gone", json=alert())
    assert (again.status_code, again.json()["version"]) == (201, 3)


def test_unknown_alerts_are_404(open_client: TestClient[Litestar]) -> None:
    assert open_client.get("/v1/alerts/nothing-here").status_code == 404
    assert open_client.get("/v1/alerts/nothing-here/deliveries").status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
    ],
)
def test_private_targets_are_refused_by_default(client: TestClient[Litestar], url: str) -> None:
    response = client.put("/v1/alerts/inside", json=alert(url=url))
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "url"
    assert "TRADEWINDS_WEBHOOK_ALLOW_PRIVATE" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize("url", ["ftp://example.com/x", "mailto:a@b.c", "not a url", "http:///x"])
def test_only_http_urls_with_a_host(open_client: TestClient[Litestar], url: str) -> None:
    response = open_client.put("/v1/alerts/odd-url", json=alert(url=url))
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "url"


@pytest.mark.parametrize(
    ("condition", "field"),
    [
        ({"crosses": 0.5, "moves_by": 0.1, "within": "P1D"}, "condition"),
        ({"moves_by": 0.1}, "condition.within"),
        ({"crosses": 1.5}, "condition.crosses"),
    ],
)
def test_conditions_are_checked(
    open_client: TestClient[Litestar], condition: dict[str, object], field: str
) -> None:
    response = open_client.put("/v1/alerts/bad-condition", json=alert(condition=condition))
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field


def test_metrics_count_open_streams_and_unsent_deliveries(client: TestClient[Litestar]) -> None:
    text = client.get("/metrics").text
    assert "tradewinds_stream_subscribers 0.0" in text
    assert 'tradewinds_webhook_deliveries{status="pending"} 0.0' in text
    assert 'tradewinds_webhook_deliveries{status="attempted"} 0.0' in text


def test_a_delivery_connects_to_the_address_its_check_resolved(
    open_client: TestClient[Litestar], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The delivery worker resolves the target's name once per attempt and connects to
    that answer: a name that answers the receiver's address and then another one
    (DNS rebinding) is delivered to the receiver, with the URL's own Host header."""
    answers = iter([["127.0.0.1"]])
    calls: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return next(answers, ["127.0.0.2"])  # nothing listens there

    monkeypatch.setattr(webhooks, "resolve", rebinding)
    rule = {"name": "r", "match": {"kind": "signal", "where": {"label": "a"}}, "bayes_factor": 3}
    created = open_client.put("/v1/scenarios/alpha", json={**SCENARIO, "rules": [rule]})
    assert created.status_code == 201, created.text
    before = open_client.get("/v1/forecasts/alpha").json()["probability"]
    threshold = 1 / (1 + math.exp(-(math.log(before / (1 - before)) + math.log(3) / 2)))
    with Receiver() as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        url = f"http://hooks.rebind.invalid:{port}/hook"
        body = {"scenario_ids": ["alpha"], "condition": {"crosses": threshold}, "url": url}
        defined = open_client.put("/v1/alerts/goes-up", json={**body, "secret": "s"})
        assert defined.status_code == 201, defined.text
        appended = open_client.post("/v1/events", json=signal(label="a"))
        assert appended.status_code == 201, appended.text
        [received] = receiver.wait_for(1, timeout=30)
    assert received.headers["Host"] == f"hooks.rebind.invalid:{port}"
    assert calls == ["hooks.rebind.invalid"]
