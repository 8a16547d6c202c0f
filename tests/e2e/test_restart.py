"""Everything acknowledged survives a restart of the process, graceful or not."""

import signal
from typing import Any
from uuid import uuid4

import httpx
import pytest

from tests.e2e.conftest import StartServer
from tests.e2e.helpers import SCENARIO, Json, as_sent, by_id, http, list_all
from tests.e2e.helpers import signal as event

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

SCENARIO_ID = "restart-check"


def write_history(client: httpx.Client) -> dict[str, Any]:
    """Singles, a batch, a scenario in two versions and a retraction; returns what was
    sent and every receipt."""
    singles = [
        event("first"),
        event("second", with_id=True, tags=["a", "b"]),
        event(
            "third",
            occurred_at="2025-06-30T15:59:59.123456Z",
            source={"name": "wire", "url": "https://example.com/x"},
            attributes={"n": 3, "ok": True, "names": ["p", "q"]},
        ),
    ]
    receipts = []
    for body in singles:
        response = client.post("/v1/events", json=body)
        assert response.status_code == 201, response.text
        receipts.append(response.json())
    keyed = event("keyed")
    key = {"Idempotency-Key": f"restart-{uuid4()}"}
    response = client.post("/v1/events", json=keyed, headers=key)
    assert response.status_code == 201, response.text
    singles.append(keyed)
    receipts.append(response.json())
    batch = [event(f"batch {i}", with_id=i % 2 == 0) for i in range(5)]
    response = client.post("/v1/events/batch", json={"events": batch})
    assert response.status_code == 201, response.text
    receipts.extend(response.json())

    response = client.put(f"/v1/scenarios/{SCENARIO_ID}", json=SCENARIO)
    assert response.status_code == 201, response.text
    assert response.json() == {"id": SCENARIO_ID, "version": 1}
    response = client.put(f"/v1/scenarios/{SCENARIO_ID}", json={**SCENARIO, "prior": 0.3})
    assert response.status_code == 200, response.text
    assert response.json() == {"id": SCENARIO_ID, "version": 2}

    retracted_id = receipts[1]["event_id"]
    response = client.post(f"/v1/events/{retracted_id}/retraction", json={"reason": "wrong"})
    assert response.status_code == 201, response.text
    return {
        "sent": singles + batch,
        "receipts": receipts,
        "retraction": response.json(),
        "retracted_id": retracted_id,
        "keyed": (keyed, key, receipts[3]),
    }


def snapshot(client: httpx.Client) -> dict[str, Any]:
    """Everything the API shows of the log."""
    events = list_all(client)
    one_by_one = {}
    for listed in events:
        response = client.get(f"/v1/events/{listed['event_id']}")
        assert response.status_code == 200, response.text
        one_by_one[listed["event_id"]] = response.json()
    scenario = client.get(f"/v1/scenarios/{SCENARIO_ID}")
    versions = client.get(f"/v1/scenarios/{SCENARIO_ID}/versions")
    scenarios = client.get("/v1/scenarios")
    assert scenario.status_code == versions.status_code == scenarios.status_code == 200
    return {
        "events": events,
        "one_by_one": one_by_one,
        "scenario": scenario.json(),
        "versions": versions.json(),
        "scenarios": scenarios.json(),
    }


def check_against_receipts(state: dict[str, Any], history: dict[str, Any]) -> None:
    listed = by_id(state["events"])
    assert len(listed) == len(history["sent"])
    for sent, receipt in zip(history["sent"], history["receipts"], strict=True):
        found: Json = listed[receipt["event_id"]]
        assert found["position"] == receipt["position"]
        assert found["recorded_at"] == receipt["recorded_at"]
        assert as_sent(found, sent) == sent
        assert receipt["event_id"] == sent.get("event_id", receipt["event_id"])
        assert state["one_by_one"][receipt["event_id"]] == found
    retraction = history["retraction"]
    for event_id, found in listed.items():
        if event_id == history["retracted_id"]:
            assert found["retracted"] == {
                "recorded_at": retraction["recorded_at"],
                "reason": "wrong",
            }
        else:
            assert "retracted" not in found
    assert state["scenario"]["version"] == 2
    assert [v["version"] for v in state["versions"]["versions"]] == [1, 2]
    assert state["scenario"]["definition"]["prior"] == 0.3


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_a_new_process_shows_the_same_log(start_server: StartServer, how: str) -> None:
    server = start_server()
    with http(server.base_url) as client:
        history = write_history(client)
        before = snapshot(client)
    check_against_receipts(before, history)

    if how == "sigterm":
        assert server.stop() in (0, -signal.SIGTERM), "SIGTERM did not shut down cleanly"
    else:
        server.kill()

    server = start_server()
    with http(server.base_url) as client:
        after = snapshot(client)
        check_against_receipts(after, history)
        assert after == before

        # The restarted log takes new writes after the old ones, and a new retraction,
        # a repeated definition and a revision behave as on the first process.
        highest = max(
            history["retraction"]["position"],
            before["scenario"]["position"],
            *(r["position"] for r in history["receipts"]),
        )
        response = client.post("/v1/events", json=event("after restart"))
        assert response.status_code == 201, response.text
        assert response.json()["position"] > highest
        retracted = client.post(
            f"/v1/events/{history['retracted_id']}/retraction", json={"reason": "again"}
        )
        assert retracted.status_code == 409, retracted.text
        same = client.put(f"/v1/scenarios/{SCENARIO_ID}", json={**SCENARIO, "prior": 0.3})
        assert (same.status_code, same.json()) == (200, {"id": SCENARIO_ID, "version": 2})
        revised = client.put(f"/v1/scenarios/{SCENARIO_ID}", json={**SCENARIO, "prior": 0.4})
        assert (revised.status_code, revised.json()) == (200, {"id": SCENARIO_ID, "version": 3})
        resent = history["sent"][1]  # carries its own event_id: an idempotent replay
        replay = client.post("/v1/events", json=resent)
        assert replay.status_code == 200, replay.text
        assert replay.json() == history["receipts"][1]
        keyed, key, keyed_receipt = history["keyed"]
        replay = client.post("/v1/events", json=keyed, headers=key)
        assert (replay.status_code, replay.json()) == (200, keyed_receipt)
        other = client.post("/v1/events", json={**keyed, "summary": "other"}, headers=key)
        assert other.status_code == 409, other.text
