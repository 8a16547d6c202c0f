"""Many clients at once, on one real server: nothing lost, nothing stored twice."""

import asyncio
from collections import Counter
from collections.abc import Iterator
from contextlib import AsyncExitStack
from datetime import datetime
from itertools import pairwise
from uuid import uuid4

import httpx
import pytest

from tests.e2e.conftest import StartServer
from tests.e2e.helpers import SCENARIO, Json, as_sent, async_http, by_id, http, list_all
from tests.e2e.helpers import signal as event
from tests.support.server import ServerProcess
from tests.support.stores import STORES, make_store

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

CLIENTS = 32
SINGLES = 25
BATCH_SIZE = 20
RACERS = 40


@pytest.fixture(scope="module", params=STORES)
def shared_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """One server (per store) for the races, which tell their own events apart by a
    unique summary."""
    store = make_store(request)
    server = ServerProcess(tmp_path_factory.mktemp("shared") / "data", env=store.server_env)
    try:
        yield server.start()
    finally:
        server.kill()


def listed_with(server: ServerProcess, token: str) -> list[Json]:
    with http(server.base_url) as client:
        return [e for e in list_all(client) if token in e["summary"]]


async def connected_clients(
    stack: AsyncExitStack, base_url: str, n: int
) -> list[httpx.AsyncClient]:
    """``n`` clients, each with its connection already open, so that their requests
    really arrive together."""
    clients = [await stack.enter_async_context(async_http(base_url)) for _ in range(n)]
    for response in await asyncio.gather(*(c.get("/health/live") for c in clients)):
        assert response.status_code == 200
    return clients


async def append_as_client(
    client: httpx.AsyncClient, client_no: int, go: asyncio.Event
) -> list[tuple[Json, Json]]:
    """SINGLES single events (half with client-chosen ids); every fourth client also
    sends two batches. Returns (sent event, receipt) pairs."""
    await go.wait()
    done: list[tuple[Json, Json]] = []
    for i in range(SINGLES):
        body = event(f"client {client_no} event {i}", with_id=i % 2 == 0)
        response = await client.post("/v1/events", json=body)
        assert response.status_code == 201, response.text
        done.append((body, response.json()))
        if client_no % 4 == 0 and i in (5, 15):
            batch = [
                event(f"client {client_no} batch {i} event {k}", with_id=k % 3 == 0)
                for k in range(BATCH_SIZE)
            ]
            response = await client.post("/v1/events/batch", json={"events": batch})
            assert response.status_code == 201, response.text
            assert len(response.json()) == BATCH_SIZE
            done.extend(zip(batch, response.json(), strict=True))
    # Read-your-writes: the last acknowledged event is readable at once.
    body, receipt = done[-1]
    response = await client.get(f"/v1/events/{receipt['event_id']}")
    assert response.status_code == 200, response.text
    assert response.json()["position"] == receipt["position"]
    return done


async def test_concurrent_clients_lose_nothing(start_server: StartServer) -> None:
    server = await asyncio.to_thread(start_server)
    go = asyncio.Event()
    async with AsyncExitStack() as stack:
        clients = await connected_clients(stack, server.base_url, CLIENTS)
        tasks = [asyncio.create_task(append_as_client(c, n, go)) for n, c in enumerate(clients)]
        go.set()
        results = await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
    done = [pair for result in results for pair in result]
    expected = CLIENTS * SINGLES + (CLIENTS // 4) * 2 * BATCH_SIZE
    assert len(done) == expected

    receipts = {receipt["event_id"]: receipt for _, receipt in done}
    assert len(receipts) == expected, "two receipts carry the same event_id"
    for body, receipt in done:
        assert receipt["event_id"] == body.get("event_id", receipt["event_id"])
    positions = [receipt["position"] for receipt in receipts.values()]
    assert len(set(positions)) == expected, "two acknowledged events share a position"

    with http(server.base_url) as client:
        paged = list_all(client, limit=37)
        assert list_all(client) == paged
    listed = by_id(paged)
    assert set(listed) == set(receipts), "the log is not exactly the acknowledged events"
    for body, receipt in done:
        found = listed[receipt["event_id"]]
        assert as_sent(found, body) == body
        assert (found["position"], found["recorded_at"]) == (
            receipt["position"],
            receipt["recorded_at"],
        )
    recorded = [datetime.fromisoformat(e["recorded_at"]) for e in paged]
    assert all(a <= b for a, b in pairwise(recorded)), "recorded_at goes back along the log"


def race_requests(case: str, summary: str) -> tuple[str, Json, dict[str, str]]:
    """(path, body, headers) of one request of the race; every racer sends the same."""
    key = {"Idempotency-Key": f"key-{uuid4()}"}
    if case == "single with event_id":
        return "/v1/events", event(summary, with_id=True), {}
    if case == "single with Idempotency-Key":
        return "/v1/events", event(summary), key
    batch = [event(f"{summary} {k}", with_id=case == "batch with event_ids") for k in range(10)]
    return "/v1/events/batch", {"events": batch}, {} if case == "batch with event_ids" else key


def with_other_content(body: Json) -> Json:
    if "events" in body:
        first = body["events"][0]
        return {"events": [{**first, "summary": f"{first['summary']} other"}, *body["events"][1:]]}
    return {**body, "summary": f"{body['summary']} other"}


@pytest.mark.parametrize(
    "case",
    [
        "single with event_id",
        "single with Idempotency-Key",
        "batch with event_ids",
        "batch with Idempotency-Key",
    ],
)
async def test_a_raced_retry_is_stored_once(shared_server: ServerProcess, case: str) -> None:
    server = shared_server
    token = f"raced {uuid4()}"
    path, body, headers = race_requests(case, token)
    async with AsyncExitStack() as stack:
        clients = await connected_clients(stack, server.base_url, RACERS)
        responses = await asyncio.gather(
            *(c.post(path, json=body, headers=headers) for c in clients)
        )
        statuses = Counter(r.status_code for r in responses)
        assert statuses == {201: 1, 200: RACERS - 1}, [r.text for r in responses][:3]
        answers = [r.json() for r in responses]
        assert all(answer == answers[0] for answer in answers), "the retries got other receipts"

        conflict = await clients[0].post(path, json=with_other_content(body), headers=headers)
        assert conflict.status_code == 409, conflict.text

    listed = listed_with(server, token)
    receipts = answers[0] if isinstance(answers[0], list) else [answers[0]]
    assert [e["event_id"] for e in listed] == [r["event_id"] for r in receipts]
    assert [(e["position"], e["recorded_at"]) for e in listed] == [
        (r["position"], r["recorded_at"]) for r in receipts
    ]
    sent = body.get("events", [body])
    assert [as_sent(e, s) for e, s in zip(listed, sent, strict=True)] == sent


@pytest.mark.parametrize("case", ["single with event_id", "single with Idempotency-Key"])
async def test_racing_different_content_under_one_id_stores_one(
    shared_server: ServerProcess, case: str
) -> None:
    """Half the racers send one content, half another, under the same id: one wins
    (201), its twins get its receipt (200), the others a 409."""
    server = shared_server
    token = str(uuid4())
    path, body, headers = race_requests(case, f"first content {token}")
    other = {**body, "summary": f"other content {token}"}
    bodies = [body if i % 2 == 0 else other for i in range(RACERS)]
    async with AsyncExitStack() as stack:
        clients = await connected_clients(stack, server.base_url, RACERS)
        responses = await asyncio.gather(
            *(c.post(path, json=b, headers=headers) for c, b in zip(clients, bodies, strict=True))
        )
    winners = [i for i, r in enumerate(responses) if r.status_code == 201]
    assert len(winners) == 1, [r.status_code for r in responses]
    won = bodies[winners[0]]
    receipt = responses[winners[0]].json()
    for sent, response in zip(bodies, responses, strict=True):
        if sent == won:
            assert response.status_code in (200, 201), response.text
            assert response.json() == receipt
        else:
            assert response.status_code == 409, response.text

    listed = listed_with(server, token)
    assert len(listed) == 1
    assert listed[0]["event_id"] == receipt["event_id"]
    assert listed[0]["summary"] == won["summary"]


async def race(
    server: ServerProcess, method: str, paths_and_bodies: list[tuple[str, Json]]
) -> list[httpx.Response]:
    async with AsyncExitStack() as stack:
        clients = await connected_clients(stack, server.base_url, len(paths_and_bodies))
        return await asyncio.gather(
            *(
                c.request(method, path, json=body)
                for c, (path, body) in zip(clients, paths_and_bodies, strict=True)
            )
        )


async def test_racing_retractions_of_one_event_store_one(shared_server: ServerProcess) -> None:
    with http(shared_server.base_url) as client:
        response = client.post("/v1/events", json=event(f"to retract {uuid4()}"))
        assert response.status_code == 201, response.text
    event_id = response.json()["event_id"]
    path = f"/v1/events/{event_id}/retraction"
    responses = await race(shared_server, "POST", [(path, {"reason": f"r{i}"}) for i in range(20)])
    winners = [i for i, r in enumerate(responses) if r.status_code == 201]
    assert len(winners) == 1, [r.status_code for r in responses]
    assert all(r.status_code == 409 for r in responses if r.status_code != 201)
    receipt = responses[winners[0]].json()
    with http(shared_server.base_url) as client:
        stored = client.get(f"/v1/events/{event_id}").json()
    assert stored["retracted"] == {
        "recorded_at": receipt["recorded_at"],
        "reason": f"r{winners[0]}",
    }


async def test_racing_resolutions_of_one_scenario_store_one(shared_server: ServerProcess) -> None:
    slug = f"resolve-{uuid4()}"
    with http(shared_server.base_url) as client:
        response = client.put(f"/v1/scenarios/{slug}", json=SCENARIO)
        assert response.status_code == 201, response.text
    outcomes = ["yes", "no", "annulled"]
    bodies = [
        {"outcome": outcomes[i % 3], "resolved_at": "2026-01-01T00:00:00Z", "note": f"n{i}"}
        for i in range(20)
    ]
    path = f"/v1/scenarios/{slug}/resolution"
    responses = await race(shared_server, "POST", [(path, body) for body in bodies])
    winners = [i for i, r in enumerate(responses) if r.status_code == 201]
    assert len(winners) == 1, [r.status_code for r in responses]
    assert all(r.status_code == 409 for r in responses if r.status_code != 201)
    receipt = responses[winners[0]].json()
    with http(shared_server.base_url) as client:
        resolution = client.get(f"/v1/scenarios/{slug}").json()["resolution"]
    assert resolution["position"] == receipt["position"]
    assert resolution["recorded_at"] == receipt["recorded_at"]
    assert resolution["outcome"] == bodies[winners[0]]["outcome"]
    assert resolution["note"] == bodies[winners[0]]["note"]


async def test_racing_definitions_of_a_scenario(shared_server: ServerProcess) -> None:
    """The same first definition raced: one 201, the rest 200, one version. Then
    different revisions raced: each one answered 200 got its own version, which holds
    its definition (a racer may be told 409 to try again, never a wrong version)."""
    slug = f"define-{uuid4()}"
    path = f"/v1/scenarios/{slug}"
    responses = await race(shared_server, "PUT", [(path, SCENARIO)] * 20)
    assert Counter(r.status_code for r in responses) == {201: 1, 200: 19}
    assert all(r.json() == {"id": slug, "version": 1} for r in responses)

    revisions = [{**SCENARIO, "title": f"revision {i}"} for i in range(12)]
    responses = await race(shared_server, "PUT", [(path, body) for body in revisions])
    assert all(r.status_code in (200, 409) for r in responses), [r.text for r in responses]
    answered = {
        r.json()["version"]: body["title"]
        for r, body in zip(responses, revisions, strict=True)
        if r.status_code == 200
    }
    assert answered, "every revision was refused"
    assert len(answered) == sum(r.status_code == 200 for r in responses), "a version given twice"
    with http(shared_server.base_url) as client:
        versions = client.get(f"{path}/versions").json()["versions"]
    assert [v["version"] for v in versions] == list(range(1, len(answered) + 2))
    stored = {v["version"]: v["definition"]["title"] for v in versions[1:]}
    assert stored == answered


# --- Idempotency-Key: one key, one request ------------------------------------------------------
# api.md: "An Idempotency-Key header gives the same guarantee to clients that send no
# event_id (the same key with other content: 409)."


def post_batch(client: httpx.Client, events: list[Json], key: str) -> httpx.Response:
    return client.post(
        "/v1/events/batch", json={"events": events}, headers={"Idempotency-Key": key}
    )


def test_a_batch_key_reused_with_more_events_is_a_conflict(shared_server: ServerProcess) -> None:
    token = str(uuid4())
    events = [event(f"{token} {i}") for i in range(4)]
    with http(shared_server.base_url) as client:
        assert post_batch(client, events[:3], token).status_code == 201
        response = post_batch(client, events, token)
        stored = len(listed_with(shared_server, token))
    assert (response.status_code, stored) == (409, 3), response.text


def test_a_batch_key_reused_with_fewer_events_is_a_conflict(shared_server: ServerProcess) -> None:
    token = str(uuid4())
    events = [event(f"{token} {i}") for i in range(3)]
    with http(shared_server.base_url) as client:
        assert post_batch(client, events, token).status_code == 201
        response = post_batch(client, events[:2], token)
    assert response.status_code == 409, response.text


def test_different_keys_never_share_an_event(shared_server: ServerProcess) -> None:
    token = str(uuid4())
    with http(shared_server.base_url) as client:
        batch = post_batch(client, [event(token)], token)
        assert batch.status_code == 201, batch.text
        single = client.post(
            "/v1/events", json=event(f"{token} other"), headers={"Idempotency-Key": f"{token}#0"}
        )
    assert single.status_code == 201, single.text
    assert single.json()["event_id"] != batch.json()[0]["event_id"]
