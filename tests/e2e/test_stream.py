"""The forecast stream through a real server: changes arrive, a resumed stream gets
what it missed exactly once, the scenario filter."""

import threading
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import StartServer
from tests.e2e.helpers import SCENARIO, Json, http, signal
from tests.e2e.sse import Stream
from tests.support.server import ServerProcess
from tests.support.stores import Store

pytestmark = pytest.mark.e2e


def scenario(label: str) -> Json:
    rule = {"name": "r", "match": {"kind": "signal", "where": {"label": label}}, "bayes_factor": 3}
    return {**SCENARIO, "rules": [rule]}


def define(client: httpx.Client, slug: str, label: str) -> None:
    response = client.put(f"/v1/scenarios/{slug}", json=scenario(label))
    assert response.status_code == 201, response.text


def append(client: httpx.Client, label: str) -> int:
    response = client.post("/v1/events", json=signal(label=label))
    assert response.status_code == 201, response.text
    position: int = response.json()["position"]
    return position


def test_a_change_arrives_with_its_position_as_id(start_server: StartServer) -> None:
    server = start_server()
    with http(server.base_url) as client:
        define(client, "alpha", "a")
        stream = Stream(client)
        try:
            state = stream.initial_state()
            before = next(e.data for e in state if e.event == "forecast")
            assert before["scenario_id"] == "alpha"
            position = append(client, "a")
            events = stream.until("alpha", position)
            change = events[-1]
            assert change.id == str(position)
            assert change.data["position"] == position
            assert change.data["probability"] > before["probability"]
            assert change.data["status"] == "open"
            assert len(change.data["interval80"]) == 2
            assert len(change.data["interval95"]) == 2
        finally:
            stream.close()


def test_a_resumed_stream_gets_the_missed_change_exactly_once(
    start_server: StartServer,
) -> None:
    server = start_server()
    with http(server.base_url) as client:
        define(client, "alpha", "a")
        define(client, "marker", "m")
        stream = Stream(client)
        stream.initial_state()
        seen = append(client, "a")
        stream.until("alpha", seen)
        last_id = stream.last_id
        stream.close()

        missed = append(client, "a")
        resumed = Stream(client, last_id=last_id)
        try:
            marker = append(client, "m")
            events = resumed.until("marker", marker)
        finally:
            resumed.close()
    alpha = [e for e in events if e.event == "forecast" and e.data["scenario_id"] == "alpha"]
    assert [e.data["position"] for e in alpha] == [missed]
    assert alpha[0].id == str(missed)
    assert all(e.event != "reset" for e in events)


def test_after_resumes_like_last_event_id(start_server: StartServer) -> None:
    server = start_server()
    with http(server.base_url) as client:
        define(client, "alpha", "a")
        first = append(client, "a")
        second = append(client, "a")
        stream = Stream(client, params={"after": first})
        try:
            events = stream.until("alpha", second)
        finally:
            stream.close()
    assert [e.data["position"] for e in events] == [second]


def test_the_filter_passes_only_the_scenarios_asked_for(start_server: StartServer) -> None:
    server = start_server()
    with http(server.base_url) as client:
        for slug, label in (("alpha", "a"), ("beta", "b"), ("gamma", "g")):
            define(client, slug, label)
        stream = Stream(client, params=[("scenario", "alpha"), ("scenario", "gamma")])
        try:
            state = stream.initial_state()
            assert {e.data["scenario_id"] for e in state if e.event == "forecast"} == {
                "alpha",
                "gamma",
            }
            append(client, "b")
            append(client, "a")
            last = append(client, "g")
            events = stream.until("gamma", last)
        finally:
            stream.close()
    moved = [e.data["scenario_id"] for e in events if e.event == "forecast"]
    assert moved == ["alpha", "gamma"]


def test_a_resume_beyond_what_the_replica_has_is_a_reset(start_server: StartServer) -> None:
    server = start_server()
    with http(server.base_url) as client:
        define(client, "alpha", "a")
        stream = Stream(client, last_id="1000000")
        try:
            state = stream.initial_state()
        finally:
            stream.close()
    assert state[0].data["reason"] == "ahead"
    assert [e.data["scenario_id"] for e in state[1:]] == ["alpha"]


def test_a_resume_beyond_the_horizon_is_a_reset_to_the_current_state(
    tmp_path: Path, store: Store
) -> None:
    env = {**store.server_env, "TRADEWINDS_STREAM_HORIZON_POSITIONS": "2"}
    with ServerProcess(tmp_path / "data", env=env) as server, http(server.base_url) as client:
        define(client, "alpha", "a")
        first = append(client, "a")
        for _ in range(3):
            last = append(client, "a")
        stream = Stream(client, last_id=str(first))
        try:
            state = stream.initial_state()
        finally:
            stream.close()
    assert state[0].data == {"position": last, "reason": "horizon"}
    (alpha,) = state[1:]
    assert alpha.data["position"] == last
    assert alpha.id == str(last)


def test_an_idle_stream_gets_heartbeats(tmp_path: Path, store: Store) -> None:
    env = {**store.server_env, "TRADEWINDS_STREAM_HEARTBEAT_S": "0.1"}
    with (
        ServerProcess(tmp_path / "data", env=env) as server,
        http(server.base_url) as client,
        client.stream("GET", "/v1/forecasts/stream") as response,
    ):
        lines = response.iter_lines()
        assert next(line for line in lines if line.startswith(":")) == ": heartbeat"


def test_sigterm_ends_open_streams_cleanly_and_exits_0(tmp_path: Path, store: Store) -> None:
    """Without ending them, uvicorn would wait for open streams until its drain
    timeout and then cut them off mid-response."""
    server = ServerProcess(tmp_path / "data", env=store.server_env).start()
    try:
        with http(server.base_url) as client:
            stream = Stream(client)
            stream.initial_state()
            ended: list[BaseException | None] = []

            def read_to_the_end() -> None:
                try:
                    while True:
                        stream.next()
                except StopIteration:
                    ended.append(None)
                except httpx.HTTPError as e:
                    ended.append(e)

            reader = threading.Thread(target=read_to_the_end)
            reader.start()
            assert server.stop() == 0
            reader.join()
            stream.close()
    finally:
        server.kill()
    assert ended == [None]
