"""Corrections through a real server: a retraction of a resolution moves the
forecast stream (live and replayed from Last-Event-ID), webhooks fired by
corrections name them, and racing corrections of one resolution store one."""

import io
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service.bootstrap import open_eventlog
from service.cli.main import import_lines
from service.commands.exchange import export_entries, write_jsonl
from tests.e2e.helpers import SCENARIO, Json, http, signal
from tests.e2e.receiver import Receiver
from tests.e2e.sse import Stream
from tests.e2e.test_concurrency import race
from tests.e2e.test_replay_check import replay_check
from tests.support.server import ServerProcess
from tests.support.stores import Store

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

ENV = {"TRADEWINDS_WEBHOOK_ALLOW_PRIVATE": "1", "TRADEWINDS_WEBHOOK_RETRY_BASE_S": "0.2"}
RESOLUTION = "/v1/scenarios/alpha/resolution"
RULE = {"name": "r", "match": {"kind": "signal", "where": {"label": "a"}}, "bayes_factor": 20}


@pytest.fixture
def server(tmp_path: Path, store: Store) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path / "data", env={**store.server_env, **ENV})
    try:
        yield process.start()
    finally:
        process.kill()


def posted(client: httpx.Client, path: str, body: Json) -> Json:
    response = client.post(path, json=body)
    assert response.status_code == 201, response.text
    receipt: Json = response.json()
    return receipt


def forecast_at(stream: Stream, position: int) -> Json:
    """The stream's forecast of alpha moved by ``position`` (its id is that position)."""
    event = stream.until("alpha", position)[-1]
    assert event.id == str(position)
    data: Json = event.data
    return data


def test_corrections_move_the_stream_and_their_webhooks_name_them(server: ServerProcess) -> None:
    with Receiver() as receiver, http(server.base_url) as client:
        scenario = {**SCENARIO, "prior": 0.2, "timing": "none", "rules": [RULE]}
        assert client.put("/v1/scenarios/alpha", json=scenario).status_code == 201
        alert = {
            "scenario_ids": ["alpha"],
            "condition": {"crosses": 0.5},
            "url": receiver.url,
            "secret": "s3cret-for-tests",
        }
        assert client.put("/v1/alerts/alpha-half", json=alert).status_code == 201
        stream = Stream(client, params={"scenario": "alpha"})
        try:
            stream.initial_state()
            event = posted(client, "/v1/events", signal(label="a"))
            assert forecast_at(stream, event["position"])["probability"] > 0.5
            retracted_event = posted(
                client, f"/v1/events/{event['event_id']}/retraction", {"reason": "misread"}
            )
            assert forecast_at(stream, retracted_event["position"])["probability"] < 0.5
            resolved = posted(
                client, RESOLUTION, {"outcome": "yes", "resolved_at": "2026-01-01T00:00:00Z"}
            )
            assert forecast_at(stream, resolved["position"])["status"] == "resolved_yes"
            retraction = posted(client, f"{RESOLUTION}/retraction", {"reason": "premature"})
            reopened = forecast_at(stream, retraction["position"])
        finally:
            stream.close()
        assert reopened["status"] == "open"
        assert reopened["probability"] == pytest.approx(0.2, abs=1e-12)

        replay = Stream(client, params={"scenario": "alpha"}, last_id=str(resolved["position"]))
        try:
            replayed = forecast_at(replay, retraction["position"])
        finally:
            replay.close()
        assert replayed == {**reopened, "as_of": replayed["as_of"]}

        requests = receiver.wait_for(4)
    bodies = {body["after"]["position"]: body for body in (json.loads(r.body) for r in requests)}
    assert bodies[event["position"]]["corrections"] == []
    assert [e["event_id"] for e in bodies[event["position"]]["events"]] == [event["event_id"]]
    by_retraction = bodies[retracted_event["position"]]
    assert (by_retraction["cause"], by_retraction["events"]) == ("records", [])
    assert by_retraction["corrections"] == [
        {
            "type": "event_retraction",
            "position": retracted_event["position"],
            "event_id": event["event_id"],
            "reason": "misread",
        }
    ]
    by_resolution = bodies[resolved["position"]]
    assert by_resolution["corrections"] == [
        {
            "type": "resolution",
            "position": resolved["position"],
            "outcome": "yes",
            "resolved_at": "2026-01-01T00:00:00Z",
        }
    ]
    assert bodies[retraction["position"]]["corrections"] == [
        {
            "type": "resolution_retraction",
            "position": retraction["position"],
            "outcome": "yes",
            "reason": "premature",
        }
    ]


async def test_racing_corrections_of_one_resolution_store_one(server: ServerProcess) -> None:
    with http(server.base_url) as client:
        assert client.put("/v1/scenarios/alpha", json=SCENARIO).status_code == 201
        posted(client, RESOLUTION, {"outcome": "yes", "resolved_at": "2026-01-01T00:00:00Z"})
    retractions = [(f"{RESOLUTION}/retraction", {"reason": f"r{i}"}) for i in range(12)]
    responses = await race(server, "POST", retractions)
    assert sorted(r.status_code for r in responses) == [201] + [409] * 11
    bodies = [
        {"outcome": ("yes", "no")[i % 2], "resolved_at": "2026-01-01T00:00:00Z", "note": f"n{i}"}
        for i in range(12)
    ]
    responses = await race(server, "POST", [(RESOLUTION, body) for body in bodies])
    winners = [i for i, r in enumerate(responses) if r.status_code == 201]
    assert len(winners) == 1, [r.status_code for r in responses]
    assert all(r.status_code == 409 for r in responses if r.status_code != 201)
    with http(server.base_url) as client:
        view = client.get("/v1/scenarios/alpha").json()
    assert view["resolution"]["note"] == f"n{winners[0]}"
    assert len(view["retracted_resolutions"]) == 1


def test_an_export_with_corrections_imported_elsewhere_replays_identically(
    tmp_path: Path, store: Store
) -> None:
    """Resolved, retracted, resolved anew: exported and imported into an empty store,
    the original store rebuilt from scratch serves byte for byte what the copy serves."""
    original = tmp_path / "original"
    with ServerProcess(original, env=store.server_env) as server, http(server.base_url) as c:
        assert c.put("/v1/scenarios/alpha", json=SCENARIO).status_code == 201
        posted(c, RESOLUTION, {"outcome": "yes", "resolved_at": "2026-01-01T00:00:00Z"})
        posted(c, f"{RESOLUTION}/retraction", {"reason": "premature"})
        posted(c, RESOLUTION, {"outcome": "no", "resolved_at": "2026-02-01T00:00:00Z"})
    out = io.BytesIO()
    with open_eventlog(store.settings(original)) as log:
        write_jsonl(export_entries(log), out)
    copy = store.new_settings(tmp_path / "copy")
    assert import_lines(copy, out.getvalue().splitlines()).added == 4
    env = {} if copy.database_url is None else {"TRADEWINDS_DATABASE_URL": copy.database_url}
    with ServerProcess(tmp_path / "copy", env=env) as server, http(server.base_url) as c:
        served = c.get("/v1/scenarios/alpha").json()
        result = replay_check(original, server.base_url, store.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "identical" in result.stdout
    assert served["resolution"]["outcome"] == "no"
    assert [r["retracted"]["reason"] for r in served["retracted_resolutions"]] == ["premature"]
