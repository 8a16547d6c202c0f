"""Two ``tradewinds serve`` processes (replicas) on one PostgreSQL database: each runs
its own projection of the shared log."""

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from domain.records import BacktestRecord
from service.persistence.environment import eventsourcing_env
from service.persistence.eventlog import TradewindsStore
from service.settings import Settings
from tests.e2e.helpers import SCENARIO, Json, async_http, http, list_all
from tests.e2e.helpers import signal as event
from tests.e2e.test_backtest_restart import REQUEST, heavy_store
from tests.support.postgres import PostgresCluster
from tests.support.server import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

LEASE_S = 2
CLIENTS = 8
SINGLES = 15
BATCHES = 2
BATCH_SIZE = 25
RACES = 15

Replicas = tuple[ServerProcess, ServerProcess]
StartReplicas = Callable[..., Replicas]


@pytest.fixture
def database_url(postgres_cluster: PostgresCluster) -> str:
    return postgres_cluster.new_store()


@pytest.fixture
def start_replicas(
    request: pytest.FixtureRequest, tmp_path: Path, database_url: str
) -> Iterator[StartReplicas]:
    """Starts replicas A and B on the test's database (each its own data directory,
    which PostgreSQL does not use). Killed at the end; their logs go to the report."""
    started: list[ServerProcess] = []

    def start(*extra_args: str, lease_s: float = LEASE_S) -> Replicas:
        env = {"TRADEWINDS_DATABASE_URL": database_url, "TRADEWINDS_BACKTEST_LEASE_S": str(lease_s)}
        a, b = (
            ServerProcess(tmp_path / name, env=env, extra_args=extra_args) for name in ("a", "b")
        )
        started.extend((a, b))
        a.start()
        b.start()
        return a, b

    yield start
    for server in started:
        server.kill()
    for server in started:
        if server.log_path.exists():
            lines = server.log_path.read_text(errors="replace").splitlines()
            request.node.add_report_section(
                "teardown", server.log_path.name, "\n".join(lines[-40:])
            )


def listed_when_both_agree(a: ServerProcess, b: ServerProcess, count: int) -> list[Json]:
    """Both replicas' lists, once both show ``count`` events (bounded wait); equal."""
    deadline = time.monotonic() + 30
    with http(a.base_url) as client_a, http(b.base_url) as client_b:
        while True:
            on_a, on_b = list_all(client_a), list_all(client_b)
            if (len(on_a) >= count and len(on_b) >= count) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    assert on_a == on_b
    return on_a


async def _writer(base_url: str, token: str) -> list[Json]:
    """Singles and batches from one client; returns every receipt with what was sent."""
    receipts = []
    async with async_http(base_url) as client:
        for i in range(SINGLES):
            body = event(f"{token} single {i}")
            response = await client.post("/v1/events", json=body)
            assert response.status_code == 201, response.text
            receipts.append(response.json() | {"summary": body["summary"]})
        for j in range(BATCHES):
            batch = [event(f"{token} batch {j}.{k}") for k in range(BATCH_SIZE)]
            response = await client.post("/v1/events/batch", json={"events": batch})
            assert response.status_code == 201, response.text
            for receipt, body in zip(response.json(), batch, strict=True):
                receipts.append(receipt | {"summary": body["summary"]})
    return receipts


def test_concurrent_writers_on_both_replicas_lose_nothing(start_replicas: StartReplicas) -> None:
    a, b = start_replicas()

    async def everyone() -> list[list[Json]]:
        writers = [
            _writer(server.base_url, f"{name}{i}")
            for i in range(CLIENTS)
            for name, server in (("a", a), ("b", b))
        ]
        return await asyncio.gather(*writers)

    receipts = [r for client in asyncio.run(everyone()) for r in client]
    expected = CLIENTS * 2 * (SINGLES + BATCHES * BATCH_SIZE)
    assert len(receipts) == expected
    positions = [r["position"] for r in receipts]
    assert len(set(positions)) == expected, "two acknowledged events share a position"

    listed = listed_when_both_agree(a, b, expected)
    assert len(listed) == expected
    assert {e["event_id"]: (e["position"], e["summary"]) for e in listed} == {
        r["event_id"]: (r["position"], r["summary"]) for r in receipts
    }
    recorded = [e["recorded_at"] for e in sorted(listed, key=lambda e: e["position"])]
    assert recorded == sorted(recorded), "recorded_at decreases along the log"


def test_a_write_on_one_replica_is_read_on_the_other_with_min_position(
    start_replicas: StartReplicas,
) -> None:
    a, b = start_replicas()
    with http(a.base_url) as on_a, http(b.base_url) as on_b:
        assert on_a.put("/v1/scenarios/ryw", json=SCENARIO).status_code == 201
        for i in range(20):
            receipt = on_a.post("/v1/events", json=event(f"ryw {i}")).json()
            forecast = on_b.get("/v1/forecasts/ryw", params={"min_position": receipt["position"]})
            assert forecast.status_code == 200, forecast.text
            body = forecast.json()
            assert body["position"] >= receipt["position"]
            counted = {c.get("event_id") for c in body["contributions"]}
            assert receipt["event_id"] in counted
            found = on_b.get(f"/v1/events/{receipt['event_id']}")
            assert found.status_code == 200
            assert found.json()["position"] == receipt["position"]


async def _race(a: ServerProcess, b: ServerProcess, method: str, path: str, **kw: Any) -> list:
    async with async_http(a.base_url) as on_a, async_http(b.base_url) as on_b:
        return list(
            await asyncio.gather(on_a.request(method, path, **kw), on_b.request(method, path, **kw))
        )


def test_the_same_event_id_or_key_sent_to_both_replicas_is_stored_once(
    start_replicas: StartReplicas,
) -> None:
    a, b = start_replicas()
    sent = 0
    for i in range(RACES):
        body = event(f"race id {i}", with_id=True)
        first, second = asyncio.run(_race(a, b, "POST", "/v1/events", json=body))
        assert sorted([first.status_code, second.status_code]) == [200, 201]
        assert first.json() == second.json()

        key = {"Idempotency-Key": f"race-key-{i}-{uuid4()}"}
        body = event(f"race key {i}")
        first, second = asyncio.run(_race(a, b, "POST", "/v1/events", json=body, headers=key))
        assert sorted([first.status_code, second.status_code]) == [200, 201]
        assert first.json() == second.json()

        key = {"Idempotency-Key": f"race-batch-{i}-{uuid4()}"}
        batch = {"events": [event(f"race batch {i}.{k}") for k in range(3)]}
        first, second = asyncio.run(
            _race(a, b, "POST", "/v1/events/batch", json=batch, headers=key)
        )
        assert sorted([first.status_code, second.status_code]) == [200, 201]
        assert first.json() == second.json()
        sent += 5

    listed = listed_when_both_agree(a, b, sent)
    summaries = [e["summary"] for e in listed]
    assert len(summaries) == sent
    assert len(set(summaries)) == sent


def pid(server: ServerProcess) -> int:
    assert server.process is not None
    return server.process.pid


def pid_of(owner: str) -> int:
    """The process id in a runner's owner id (host:pid:random)."""
    return int(owner.split(":")[1])


def backtest_record(database_url: str, backtest_id: str) -> tuple[BacktestRecord, list[Any]]:
    """The backtest's record and its events, read from the store."""
    settings = Settings(data_dir=Path("unused"), database_url=database_url)
    app = TradewindsStore(eventsourcing_env(settings))
    try:
        record = app.repository.get(UUID(backtest_id))
        return record, list(app.events.get(UUID(backtest_id)))
    finally:
        app.close()


def _running_on(
    a: ServerProcess, b: ServerProcess, database_url: str
) -> tuple[str, ServerProcess, ServerProcess]:
    """Request a long backtest on A; once a replica has claimed it: its id, the
    replica running it and the other one."""
    response = httpx.post(f"{a.base_url}/v1/backtests", json=REQUEST, timeout=10)
    assert response.status_code == 202
    backtest_id = response.json()["id"]
    deadline = time.monotonic() + 30
    record, _ = backtest_record(database_url, backtest_id)
    while record.owner is None and time.monotonic() < deadline:
        time.sleep(0.05)
        record, _ = backtest_record(database_url, backtest_id)
    assert record.owner is not None
    assert not record.finished
    runner = {pid(a): a, pid(b): b}[pid_of(record.owner)]
    return backtest_id, runner, b if runner is a else a


def _finished_on(server: ServerProcess, backtest_id: str) -> Json:
    deadline = time.monotonic() + 120
    body: Json = httpx.get(f"{server.base_url}/v1/backtests/{backtest_id}").json()
    while body["status"] not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.2)
        body = httpx.get(f"{server.base_url}/v1/backtests/{backtest_id}").json()
    return body


def test_a_backtest_runs_on_one_replica_and_is_taken_over_when_it_is_killed(
    start_replicas: StartReplicas, database_url: str, tmp_path: Path
) -> None:
    heavy_store(Settings(data_dir=tmp_path / "import", database_url=database_url))
    a, b = start_replicas("--demo")
    backtest_id, runner, survivor = _running_on(a, b, database_url)
    runner.kill()

    body = _finished_on(survivor, backtest_id)
    assert body["status"] == "done", body
    assert body["scores"]["overall"]["n_scenarios"] >= 1
    _, events = backtest_record(database_url, backtest_id)
    claimed_by = [pid_of(e.owner) for e in events if isinstance(e, BacktestRecord.Claimed)]
    assert claimed_by == [pid(runner), pid(survivor)]
    assert sum(isinstance(e, BacktestRecord.Finished) for e in events) == 1


def test_a_replica_that_stops_releases_its_backtest_to_the_other(
    start_replicas: StartReplicas, database_url: str, tmp_path: Path
) -> None:
    """The lease is ten minutes: the other replica can only finish the run within the
    test's wait because the stopping one released it."""
    heavy_store(Settings(data_dir=tmp_path / "import", database_url=database_url))
    a, b = start_replicas("--demo", lease_s=600)
    backtest_id, runner, survivor = _running_on(a, b, database_url)
    assert runner.stop() == 0

    body = _finished_on(survivor, backtest_id)
    assert body["status"] == "done", body
    _, events = backtest_record(database_url, backtest_id)
    claims = [e for e in events if isinstance(e, BacktestRecord.Claimed)]
    assert [pid_of(c.owner) for c in claims] == [pid(runner), pid(runner), pid(survivor)]
    assert claims[1].lease_until == claims[1].timestamp  # the release: expired at once
    assert sum(isinstance(e, BacktestRecord.Finished) for e in events) == 1


def test_with_both_replicas_alive_one_runs_each_backtest(
    start_replicas: StartReplicas, database_url: str
) -> None:
    a, b = start_replicas("--demo")
    ids = []
    for i in range(4):
        server = (a, b)[i % 2]
        small = {"from": "2026-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z", "step": "P1D"}
        response = httpx.post(f"{server.base_url}/v1/backtests", json=small, timeout=10)
        assert response.status_code == 202
        ids.append(response.json()["id"])
    for backtest_id in ids:
        deadline = time.monotonic() + 60
        body = httpx.get(f"{b.base_url}/v1/backtests/{backtest_id}").json()
        while body["status"] not in ("done", "failed") and time.monotonic() < deadline:
            time.sleep(0.1)
            body = httpx.get(f"{b.base_url}/v1/backtests/{backtest_id}").json()
        assert body["status"] == "done", body
        assert httpx.get(f"{a.base_url}/v1/backtests/{backtest_id}").json() == body
        _, events = backtest_record(database_url, backtest_id)
        claims = [e for e in events if isinstance(e, BacktestRecord.Claimed)]
        assert len(claims) == 1
        assert sum(isinstance(e, BacktestRecord.Finished) for e in events) == 1
