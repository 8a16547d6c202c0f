"""Alerts through a real server and a webhook receiver on loopback: a signed POST
when a threshold is crossed (and none when it is not), retries until a 2xx, and
a delivery that survives a restart."""

import hashlib
import hmac
import json
import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.helpers import SCENARIO, Json, http, signal
from tests.e2e.receiver import Receiver
from tests.e2e.sse import Stream
from tests.support.postgres import PostgresCluster
from tests.support.server import ServerProcess
from tests.support.stores import Store

pytestmark = pytest.mark.e2e

SECRET = "s3cret-for-tests"
LN3 = math.log(3)
ENV = {
    "TRADEWINDS_WEBHOOK_ALLOW_PRIVATE": "1",
    "TRADEWINDS_WEBHOOK_RETRY_BASE_S": "0.2",
    "TRADEWINDS_WEBHOOK_LEASE_S": "2",
}


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


@pytest.fixture
def server_factory(tmp_path: Path, store: Store) -> Iterator[Callable[[], ServerProcess]]:
    started: list[ServerProcess] = []

    def start() -> ServerProcess:
        server = ServerProcess(tmp_path / "data", env={**store.server_env, **ENV})
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.kill()


def setup(client: httpx.Client) -> float:
    """A scenario each signal labelled 'a' moves by ln 3 in log-odds; its probability now."""
    rule = {"name": "r", "match": {"kind": "signal", "where": {"label": "a"}}, "bayes_factor": 3}
    response = client.put("/v1/scenarios/alpha", json={**SCENARIO, "rules": [rule]})
    assert response.status_code == 201, response.text
    forecast = client.get("/v1/forecasts/alpha").json()
    probability: float = forecast["probability"]
    notifier_serves(client, "alpha")
    return probability


def notifier_serves(client: httpx.Client, scenario_id: str) -> None:
    """Wait until the stream's notifier has served the scenario. A crossing needs a
    "before": had the notifier first seen the scenario and the next event together
    (it lags under load), it would have no before and nothing would fire. A new
    subscriber's first chunk is the notifier's current state."""
    stream = Stream(client, params={"scenario": scenario_id})
    try:
        assert any(e.event == "forecast" for e in stream.initial_state())
    finally:
        stream.close()


def wait_until_served(client: httpx.Client, scenario_id: str, timeout_s: float = 20.0) -> None:
    """Wait until this replica's projection has the scenario defined on another one
    (replicas catch up from the shared store, a moment later)."""
    deadline = time.monotonic() + timeout_s
    while client.get(f"/v1/forecasts/{scenario_id}").status_code == 404:
        assert time.monotonic() < deadline, f"{scenario_id} never reached this replica"
        time.sleep(0.05)


def define_alert(client: httpx.Client, url: str, threshold: float) -> None:
    body = {"scenario_ids": ["alpha"], "condition": {"crosses": threshold}, "url": url,
            "secret": SECRET}  # fmt: skip
    response = client.put("/v1/alerts/alpha-up", json=body)
    assert response.status_code == 201, response.text
    assert "secret" not in response.json()


def append(client: httpx.Client) -> Json:
    response = client.post("/v1/events", json=signal(label="a"))
    assert response.status_code == 201, response.text
    receipt: Json = response.json()
    return receipt


def deliveries(client: httpx.Client) -> list[Json]:
    response = client.get("/v1/alerts/alpha-up/deliveries")
    assert response.status_code == 200, response.text
    found: list[Json] = response.json()["deliveries"]
    return found


def wait_for_status(client: httpx.Client, status: str, timeout: float = 60) -> list[Json]:
    deadline = time.monotonic() + timeout
    while True:
        found = deliveries(client)
        if found and all(d["status"] == status for d in found):
            return found
        if time.monotonic() > deadline:
            msg = f"deliveries never all {status}: {found}"
            raise AssertionError(msg)
        time.sleep(0.05)


def verify(headers: dict[str, str], body: bytes) -> None:
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["Tradewinds-Signature"], expected)


def test_a_crossing_is_posted_signed_and_a_move_that_does_not_cross_is_not(
    server_factory: Callable[[], ServerProcess],
) -> None:
    server = server_factory()
    with Receiver() as receiver, http(server.base_url) as client:
        p0 = setup(client)
        # One event moves the probability up by ln 3 in log-odds: the first stays
        # below this threshold, the second crosses it.
        threshold = sigmoid(logit(p0) + 1.5 * LN3)
        define_alert(client, receiver.url, threshold)
        stream = Stream(client, params={"scenario": "alpha"})
        try:
            stream.initial_state()
            first = append(client)
            below = stream.until("alpha", first["position"])[-1].data["probability"]
            second = append(client)
            above = stream.until("alpha", second["position"])[-1].data["probability"]
        finally:
            stream.close()
        assert below < threshold <= above
        (request,) = receiver.wait_for(1)
        listed = wait_for_status(client, "succeeded")
    verify(request.headers, request.body)
    payload = json.loads(request.body)
    assert request.headers["Tradewinds-Delivery"] == payload["delivery_id"]
    assert request.headers["Content-Type"] == "application/json"
    assert payload["alert"]["id"] == "alpha-up"
    assert payload["scenario"]["id"] == "alpha"
    assert payload["before"]["probability"] == below
    assert payload["after"]["probability"] == above
    assert payload["after"]["position"] == second["position"]
    assert [e["event_id"] for e in payload["events"]] == [second["event_id"]]
    assert [d["id"] for d in listed] == [payload["delivery_id"]]
    assert listed[0]["attempts"] == 1
    assert listed[0]["last_status"] == 200


def test_a_failing_receiver_is_retried_until_it_answers_2xx(
    server_factory: Callable[[], ServerProcess],
) -> None:
    server = server_factory()
    with Receiver([500, 503, 200]) as receiver, http(server.base_url) as client:
        p0 = setup(client)
        define_alert(client, receiver.url, sigmoid(logit(p0) + 0.5 * LN3))
        append(client)
        requests = receiver.wait_for(3)
        (listed,) = wait_for_status(client, "succeeded")
    assert len({r.headers["Tradewinds-Delivery"] for r in requests}) == 1
    assert len({r.body for r in requests}) == 1
    for request in requests:
        verify(request.headers, request.body)
    assert listed["attempts"] == 3
    assert listed["last_status"] == 200


def test_a_pending_delivery_survives_a_restart(
    server_factory: Callable[[], ServerProcess],
) -> None:
    server = server_factory()
    with Receiver([500]) as receiver, http(server.base_url) as client:
        p0 = setup(client)
        define_alert(client, receiver.url, sigmoid(logit(p0) + 0.5 * LN3))
        append(client)
        first = receiver.wait_for(1)[0]
        server.kill()
        receiver.answer(200)
        restarted = server_factory()
        with http(restarted.base_url) as after_restart:
            (listed,) = wait_for_status(after_restart, "succeeded")
        received = list(receiver.received)
    # The killed server may not have recorded its attempt: what counts is that the
    # same delivery (id, body) was sent again by the restarted one, and succeeded.
    assert len(received) >= 2
    assert {r.headers["Tradewinds-Delivery"] for r in received} == {listed["id"]}
    assert {r.body for r in received} == {first.body}
    assert received[-1].headers["Tradewinds-Signature"] == first.headers["Tradewinds-Signature"]


def test_two_replicas_send_each_delivery_once(
    tmp_path: Path, postgres_cluster: PostgresCluster
) -> None:
    """Both replicas see the crossing and both try to record and send it: one delivery
    is recorded, and it is sent once."""
    env = {"TRADEWINDS_DATABASE_URL": postgres_cluster.new_store(), **ENV}
    replicas = [ServerProcess(tmp_path / name, env=env) for name in ("a", "b")]
    try:
        for replica in replicas:
            replica.start()
        a, b = replicas
        with Receiver() as receiver, http(a.base_url) as on_a, http(b.base_url) as on_b:
            p0 = setup(on_a)
            wait_until_served(on_b, "alpha")
            streams = [Stream(client, params={"scenario": "alpha"}) for client in (on_a, on_b)]
            try:
                for stream in streams:
                    # each replica's notifier serves alpha: the next change has a before
                    assert any(e.event == "forecast" for e in stream.initial_state())
                define_alert(on_a, receiver.url, sigmoid(logit(p0) + 0.5 * LN3))
                moved = append(on_a)
                for stream in streams:
                    stream.until("alpha", moved["position"])
            finally:
                for stream in streams:
                    stream.close()
            (on_a_listed,) = wait_for_status(on_a, "succeeded")
            (on_b_listed,) = wait_for_status(on_b, "succeeded")
            received = list(receiver.received)
    finally:
        for replica in replicas:
            replica.kill()
    assert on_a_listed == on_b_listed
    assert on_a_listed["attempts"] == 1
    assert [r.headers["Tradewinds-Delivery"] for r in received] == [on_a_listed["id"]]


def test_deleting_an_alert_gives_up_its_pending_deliveries(
    server_factory: Callable[[], ServerProcess],
) -> None:
    server = server_factory()
    with Receiver([500]) as receiver, http(server.base_url) as client:
        p0 = setup(client)
        define_alert(client, receiver.url, sigmoid(logit(p0) + 0.5 * LN3))
        append(client)
        receiver.wait_for(1)
        assert client.delete("/v1/alerts/alpha-up").status_code == 204
        (listed,) = wait_for_status(client, "failed")
    assert listed["last_error"] == "the alert was deleted"
