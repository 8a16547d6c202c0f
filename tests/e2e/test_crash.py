"""kill -9 while clients write: every acknowledged write survives, nothing is half-stored."""

import asyncio
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import StartServer
from tests.e2e.helpers import SCENARIO, Json, as_sent, async_http, by_id, http, list_all
from tests.e2e.helpers import signal as event
from tests.support.server import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

WRITERS = 8
BATCH_SIZE = 50
WRITE_FOR_S = 1.5


@dataclass
class Ledger:
    """What the clients sent and what the server acknowledged, over every round."""

    requests: dict[int, list[Json]] = field(default_factory=dict)  # request no -> events
    acknowledged: dict[str, Json] = field(default_factory=dict)  # event_id -> receipt
    unanswered: set[int] = field(default_factory=set)  # in flight when the server died
    numbers: Iterator[int] = field(default_factory=itertools.count)

    def sent(self) -> dict[str, Json]:
        return {e["event_id"]: e for events in self.requests.values() for e in events}


async def writer(base_url: str, ledger: Ledger, writer_no: int, stop: asyncio.Event) -> None:
    """Appends until the server stops answering: mostly single events, every third
    request a batch; every event carries a client-chosen id."""
    async with async_http(base_url) as client:
        for i in itertools.count():
            if stop.is_set():
                return
            n = next(ledger.numbers)
            size = BATCH_SIZE if i % 3 == 2 else 1
            events = [
                event(f"writer {writer_no} request {n} event {k}", with_id=True)
                for k in range(size)
            ]
            ledger.requests[n] = events
            try:
                if size == 1:
                    response = await client.post("/v1/events", json=events[0])
                else:
                    response = await client.post("/v1/events/batch", json={"events": events})
            except httpx.TransportError:
                ledger.unanswered.add(n)
                return
            assert response.status_code == 201, response.text
            body = response.json()
            receipts = [body] if size == 1 else body
            assert [r["event_id"] for r in receipts] == [e["event_id"] for e in events]
            for receipt in receipts:
                ledger.acknowledged[receipt["event_id"]] = receipt


class Ending:
    """Ends the server (in a worker thread, while the writers go on) by SIGKILL or SIGTERM."""

    def __init__(self, server: ServerProcess, how: str) -> None:
        self.server = server
        self.how = how
        self.exit_code: int | None = None

    def __call__(self) -> None:
        if self.how == "sigkill":
            self.server.kill()
        else:
            self.exit_code = self.server.stop()


async def write_until_killed(base_url: str, ledger: Ledger, end: Ending) -> None:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(writer(base_url, ledger, w, stop)) for w in range(WRITERS)]
    await asyncio.sleep(WRITE_FOR_S)
    acknowledged_batches = sum(
        len(events) == BATCH_SIZE and events[0]["event_id"] in ledger.acknowledged
        for events in list(ledger.requests.values())
    )
    await asyncio.to_thread(end)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
    assert acknowledged_batches > 0, "no batch was acknowledged before the server was ended"


def check_log(client: httpx.Client, ledger: Ledger) -> tuple[int, int]:
    """Every acknowledged event is listed at its acknowledged position with its
    acknowledged recorded_at and content; every request is wholly present or wholly
    absent; nothing else is listed. Returns (unanswered requests found stored,
    unanswered requests found absent)."""
    listed = by_id(list_all(client))
    sent = ledger.sent()
    assert set(listed) <= set(sent), "the log lists events that no client sent"

    lost = sorted(set(ledger.acknowledged) - set(listed))
    assert not lost, f"{len(lost)} acknowledged events are missing after the crash"
    positions = [r["position"] for r in ledger.acknowledged.values()]
    assert len(set(positions)) == len(positions), "two acknowledged events share a position"
    for event_id, receipt in ledger.acknowledged.items():
        found = listed[event_id]
        assert found["position"] == receipt["position"]
        assert found["recorded_at"] == receipt["recorded_at"]
    for event_id, found in listed.items():
        assert as_sent(found, sent[event_id]) == sent[event_id]
        assert "retracted" not in found

    partial = {
        n: sum(e["event_id"] in listed for e in events)
        for n, events in ledger.requests.items()
        if 0 < sum(e["event_id"] in listed for e in events) < len(events)
    }
    assert not partial, f"requests stored in part (request: events stored): {partial}"
    stored = sum(ledger.requests[n][0]["event_id"] in listed for n in ledger.unanswered)
    return stored, len(ledger.unanswered) - stored


def report(found: tuple[int, int], ledger: Ledger) -> None:
    """Shown with a failure: how much the check covered."""
    print(
        f"{len(ledger.acknowledged)} events acknowledged in {len(ledger.requests)} requests; "
        f"of the unanswered requests {found[0]} were stored whole, {found[1]} not at all"
    )


async def test_kill_9_while_writing_keeps_every_acknowledged_write_and_no_half_batch(
    start_server: StartServer,
) -> None:
    ledger = Ledger()
    for _ in range(2):
        server = await asyncio.to_thread(start_server)
        if ledger.requests:
            with http(server.base_url) as client:
                report(check_log(client, ledger), ledger)
        await write_until_killed(server.base_url, ledger, Ending(server, "sigkill"))

    server = await asyncio.to_thread(start_server)
    with http(server.base_url) as client:
        report(check_log(client, ledger), ledger)
        # The recovered log goes on taking writes at new positions.
        response = client.post("/v1/events", json=event("after the crashes"))
        assert response.status_code == 201, response.text
        highest = max(r["position"] for r in ledger.acknowledged.values())
        assert response.json()["position"] > highest


async def test_sigterm_while_writing_keeps_every_acknowledged_write(
    start_server: StartServer,
) -> None:
    ledger = Ledger()
    server = await asyncio.to_thread(start_server)
    ending = Ending(server, "sigterm")
    await write_until_killed(server.base_url, ledger, ending)
    assert ending.exit_code == 0, "SIGTERM did not shut down cleanly"

    server = await asyncio.to_thread(start_server)
    with http(server.base_url) as client:
        check_log(client, ledger)


def check_kept(
    client: httpx.Client, answers: dict[str, Any], single: Json, batch: list[Json]
) -> None:
    """The writes answered so far (by name) are all stored as acknowledged."""
    listed = by_id(list_all(client))
    expected: list[tuple[Json, Json]] = []
    if "single" in answers:
        expected.append((single, answers["single"]))
    if "batch" in answers:
        expected.extend(zip(batch, answers["batch"], strict=True))
    assert len(listed) == len(expected)
    for body, receipt in expected:
        found = listed[receipt["event_id"]]
        assert found["event_id"] == body["event_id"]
        assert as_sent(found, body) == body
        assert (found["position"], found["recorded_at"]) == (
            receipt["position"],
            receipt["recorded_at"],
        )
    if "retraction" in answers:
        assert listed[single["event_id"]]["retracted"] == {
            "recorded_at": answers["retraction"]["recorded_at"],
            "reason": "r",
        }
    elif "single" in answers:
        assert "retracted" not in listed[single["event_id"]]
    scenario = client.get("/v1/scenarios/last-write")
    if "scenario" in answers:
        assert scenario.status_code == 200, scenario.text
        assert scenario.json()["version"] == answers["scenario"]["version"] == 1
        assert scenario.json()["definition"]["prior"] == SCENARIO["prior"]
    else:
        assert scenario.status_code == 404, scenario.text


def test_writes_acknowledged_right_before_kill_9_are_kept(start_server: StartServer) -> None:
    """Each round ends with kill -9 at once after a 201 (no pause, nothing read back):
    the acknowledged write must already be on disk, not only in the index or a buffer.
    Every later process shows every earlier write."""
    single = event("acknowledged single", with_id=True)
    batch = [event(f"acknowledged batch {i}", with_id=True) for i in range(20)]
    writes: dict[str, Callable[[httpx.Client], httpx.Response]] = {
        "single": lambda c: c.post("/v1/events", json=single),
        "batch": lambda c: c.post("/v1/events/batch", json={"events": batch}),
        "retraction": lambda c: c.post(
            f"/v1/events/{single['event_id']}/retraction", json={"reason": "r"}
        ),
        "scenario": lambda c: c.put("/v1/scenarios/last-write", json=SCENARIO),
    }
    answers: dict[str, Any] = {}
    for name, write in writes.items():
        server = start_server()
        with http(server.base_url) as client:
            check_kept(client, answers, single, batch)
            response = write(client)
            server.kill()
        assert response.status_code == 201, f"{name}: {response.text}"
        answers[name] = response.json()
    server = start_server()
    with http(server.base_url) as client:
        check_kept(client, answers, single, batch)
