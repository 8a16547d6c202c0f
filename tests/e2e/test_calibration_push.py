"""The calibration pushed: the stream's forecast events and an alert's webhook body
carry ``calibrated`` beside the model's probability, through a real server."""

import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from scipy.special import expit, logit

from tests.e2e.helpers import SCENARIO, http, signal
from tests.e2e.receiver import Receiver
from tests.e2e.sse import Stream
from tests.service.calibrationdata import closed_world
from tests.support.server import ServerProcess
from tests.support.stores import Store

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(tmp_path: Path, store: Store) -> Iterator[ServerProcess]:
    env = {**store.server_env, "TRADEWINDS_WEBHOOK_ALLOW_PRIVATE": "1"}
    process = ServerProcess(tmp_path / "data", env=env).start()
    try:
        yield process
    finally:
        process.kill()


def test_stream_events_and_webhook_bodies_carry_the_calibrated_forecast(
    server: ServerProcess,
) -> None:
    with Receiver() as receiver, http(server.base_url) as client:
        closed_world(client, 6)  # type: ignore[arg-type]
        rule = {"name": "r", "match": {"kind": "signal", "where": {"label": "a"}},
                "bayes_factor": 3}  # fmt: skip
        assert client.put("/v1/scenarios/alpha", json={**SCENARIO, "rules": [rule]}).is_success
        p0 = client.get("/v1/forecasts/alpha").json()["probability"]
        alert = {"scenario_ids": ["alpha"], "url": receiver.url, "secret": "s",
                 "condition": {"crosses": float(expit(logit(p0) + 0.5 * math.log(3)))}}  # fmt: skip
        assert client.put("/v1/alerts/alpha-up", json=alert).is_success
        calibration = client.get("/v1/calibration").json()
        assert calibration["alpha"] is not None
        stream = Stream(client, params={"scenario": "alpha"})
        try:
            stream.initial_state()
            receipt = client.post("/v1/events", json=signal(label="a")).json()
            event = stream.until("alpha", receipt["position"])[-1].data
        finally:
            stream.close()
        (request,) = receiver.wait_for(1)
    alpha, beta = calibration["alpha"], calibration["beta"]
    expected = expit(alpha + beta * logit(event["probability"]))
    assert event["calibrated"]["probability"] == pytest.approx(expected, abs=1e-9)
    ends = sorted(expit(alpha + beta * logit(p)) for p in event["interval80"])
    assert event["calibrated"]["interval80"] == pytest.approx(ends, abs=1e-9)
    body = json.loads(request.body)
    assert body["after"]["probability"] == event["probability"]
    assert body["after"]["calibrated"] == event["calibrated"]
