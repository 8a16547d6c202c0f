"""Alerts through the API: define, change, list without secrets, delete (an event too),
and the checks on webhook targets and conditions."""

from collections.abc import Iterator

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from service.app import create_app
from service.settings import Settings

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
