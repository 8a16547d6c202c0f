"""Two ``tradewinds serve`` replicas on one PostgreSQL while it is restarted
(``pg_ctl -m fast restart``) and stopped, then started again, under writes on both.

The writers, the projections, the alerting and the health endpoints must come
through it without a service restart: during the outage a write gets a prompt 503 (or 507) with
``Retry-After``, never a hang; afterwards writes succeed on both replicas and both
are ready again; every acknowledged event is in the log exactly once and listed
by both; an alert defined before fires and is delivered after; and
``/health/live`` answered 200 throughout (the database being down is not a reason
to restart the service).
"""

import json
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from uuid import uuid4

import httpx
import pytest

from tests.e2e.helpers import SCENARIO, Json, by_id, http, list_all
from tests.e2e.helpers import signal as event
from tests.e2e.receiver import Receiver
from tests.support.postgres import PostgresCluster, PostgresUnavailable
from tests.support.server import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

CLIENT_TIMEOUT_S = 12.0
"""A write not answered within this is a hang (the service's commit timeout is 10 s)."""
RECOVERY_S = 60.0
STOPPED_S = 12.0
"""Longer than the pool's wait for a connection (5 s) and the commit timeout (10 s):
requests must be refused, not held until the server is back. (At 8 s, on a loaded
machine, a writer's one write could wait out the whole outage and commit after it,
with no write of that writer refused while the server was down.)"""
WRITING_S = 1.0


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    """A cluster of this test's own: the session's is shared, and this one is restarted."""
    try:
        own = PostgresCluster().start()
    except PostgresUnavailable as e:
        pytest.skip(f"PostgreSQL tests skipped: {e}")
    try:
        yield own
    finally:
        own.close()


@pytest.fixture
def replicas(
    request: pytest.FixtureRequest, tmp_path: Path, cluster: PostgresCluster
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    env = {
        "TRADEWINDS_DATABASE_URL": cluster.new_store(),
        "TRADEWINDS_ACCESS_LOG": "0",
        "TRADEWINDS_WEBHOOK_ALLOW_PRIVATE": "1",
    }
    servers = [ServerProcess(tmp_path / name, env=env) for name in ("a", "b")]
    try:
        for server in servers:
            server.start()
        yield servers[0], servers[1]
    finally:
        for server in servers:
            server.kill()
        for server in servers:
            if server.log_path.exists():
                lines = server.log_path.read_text(errors="replace").splitlines()
                request.node.add_report_section(
                    "teardown", server.log_path.name, "\n".join(lines[-40:])
                )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as started:
        yield started


@dataclass
class Outcomes:
    """What one replica's writer saw."""

    acknowledged: dict[str, Json] = field(default_factory=dict)
    refused: list[tuple[float, int, str | None]] = field(default_factory=list)
    timeline: list[tuple[float, float, int]] = field(default_factory=list)
    """(sent, answered, status) of every answered request."""
    hung: list[str] = field(default_factory=list)
    last_ack_at: float = 0.0


class Writer(threading.Thread):
    """POSTs events one by one, each with its own id; a refused one is sent again
    (same id) until it is acknowledged: 201, or 200 if an earlier attempt had been
    stored after all."""

    def __init__(self, server: ServerProcess, name: str) -> None:
        super().__init__(name=f"writer-{name}", daemon=True)
        self.server = server
        self.label = name
        self.outcomes = Outcomes()
        self.stopping = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.server.base_url, timeout=CLIENT_TIMEOUT_S) as client:
            body: Json | None = None
            while not self.stopping.is_set():
                if body is None:
                    body = event(f"{self.label} {uuid4().hex[:8]}", with_id=True)
                began = time.monotonic()
                try:
                    response = client.post("/v1/events", json=body)
                    self.outcomes.timeline.append((began, time.monotonic(), response.status_code))
                except httpx.TimeoutException:
                    self.outcomes.hung.append(body["event_id"])
                    continue
                except httpx.TransportError:  # the replica itself is never stopped
                    self.outcomes.hung.append(body["event_id"])
                    time.sleep(0.1)
                    continue
                if response.status_code in (200, 201):
                    self.outcomes.acknowledged[body["event_id"]] = response.json()
                    self.outcomes.last_ack_at = time.monotonic()
                    body = None
                    continue
                self.outcomes.refused.append(
                    (time.monotonic(), response.status_code, response.headers.get("retry-after"))
                )
                time.sleep(0.1)


class HealthWatch(threading.Thread):
    """Polls live and ready on every replica; keeps each answer with its time."""

    def __init__(self, servers: tuple[ServerProcess, ...]) -> None:
        super().__init__(name="health-watch", daemon=True)
        self.servers = servers
        self.live: list[tuple[float, str, int]] = []
        self.ready: list[tuple[float, str, int]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        clients = [httpx.Client(base_url=s.base_url, timeout=5) for s in self.servers]
        try:
            while not self.stopping.wait(0.2):
                for server, client in zip(self.servers, clients, strict=True):
                    self.live.append((time.monotonic(), server.base_url, _status(client, "live")))
                    self.ready.append((time.monotonic(), server.base_url, _status(client, "ready")))
        finally:
            for client in clients:
                client.close()


def _status(client: httpx.Client, what: str) -> int:
    try:
        return client.get(f"/health/{what}").status_code
    except httpx.HTTPError:
        return 0  # no answer within 5 s


def ready_status(server: ServerProcess) -> int:
    with http(server.base_url) as client:
        return _status(client, "ready")


def wait_until(condition: Callable[[], bool], within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def acknowledged_since(writers: list[Writer], moment: float) -> bool:
    return all(w.outcomes.last_ack_at > moment for w in writers)


def define_alert(server: ServerProcess, receiver: Receiver) -> None:
    """Scenario ``alpha``, moved by signals labelled ``a`` (the writers' are ``test``),
    and an alert on it that one such signal fires."""
    rule = {"name": "r", "match": {"kind": "signal", "where": {"label": "a"}}, "bayes_factor": 3}
    with http(server.base_url) as client:
        created = client.put("/v1/scenarios/alpha", json={**SCENARIO, "rules": [rule]})
        assert created.status_code == 201, created.text
        before = client.get("/v1/forecasts/alpha").json()["probability"]
        halfway = 1 / (1 + math.exp(-(math.log(before / (1 - before)) + math.log(3) / 2)))
        alert = {"scenario_ids": ["alpha"], "condition": {"crosses": halfway},
                 "url": receiver.url, "secret": "s3cret-for-tests"}  # fmt: skip
        assert client.put("/v1/alerts/alpha-up", json=alert).status_code == 201


def test_writes_survive_a_database_restart_and_a_stop_on_two_replicas(
    cluster: PostgresCluster, replicas: tuple[ServerProcess, ServerProcess], receiver: Receiver
) -> None:
    a, b = replicas
    define_alert(a, receiver)
    writers = [Writer(a, "a"), Writer(b, "b")]
    watch = HealthWatch((a, b))
    watch.start()
    for writer in writers:
        writer.start()
    try:
        wait_until(lambda: acknowledged_since(writers, 0), 30, "no write acknowledged at first")
        time.sleep(WRITING_S)

        cluster.restart("fast")
        restarted = time.monotonic()
        wait_until(
            lambda: acknowledged_since(writers, restarted),
            RECOVERY_S,
            "writes did not succeed on both replicas after the restart",
        )
        time.sleep(WRITING_S)

        cluster.stop("fast")
        stopped = time.monotonic()
        time.sleep(STOPPED_S)
        cluster.start()
        started = time.monotonic()
        wait_until(
            lambda: acknowledged_since(writers, started),
            RECOVERY_S,
            "writes did not succeed on both replicas after the stop and start",
        )
        time.sleep(WRITING_S)
    finally:
        for writer in writers:
            writer.stopping.set()
        for writer in writers:
            writer.join(timeout=CLIENT_TIMEOUT_S + 5)

    def both_ready() -> bool:
        return all(ready_status(server) == 200 for server in (a, b))

    wait_until(both_ready, RECOVERY_S, "a replica did not become ready again")
    watch.stopping.set()
    watch.join(timeout=15)

    for writer in writers:
        outcomes = writer.outcomes
        assert outcomes.hung == [], f"{writer.label}: writes without a prompt answer"
        answered = [
            (round(t0 - stopped, 2), round(t1 - stopped, 2), status)
            for t0, t1, status in outcomes.timeline
            if t1 >= stopped and t0 <= started
        ]
        # A write in flight when the database stopped is refused too (after the commit
        # timeout): what counts is an answer 503/507 while it was down.
        during_stop = [a for a in answered if a[2] in (503, 507)]
        assert during_stop, (
            f"{writer.label}: nothing refused while the database was down: {answered}"
        )
        assert all(status in (503, 507) for _, status, _ in outcomes.refused), outcomes.refused
        assert all(retry_after is not None for _, _, retry_after in outcomes.refused)

    assert [entry for entry in watch.live if entry[2] != 200] == [], "live failed"
    for server in (a, b):
        readiness = [s for t, url, s in watch.ready if url == server.base_url and t >= stopped]
        assert 503 in readiness, f"{server.base_url} stayed ready while the database was down"

    # the stream notifiers, the alerters and the webhook senders came through it too
    with http(b.base_url) as client:
        assert client.post("/v1/events", json=event("moves alpha", label="a")).status_code == 201
    (delivery,) = receiver.wait_for(1, timeout=60)[:1]
    assert json.loads(delivery.body)["alert"]["id"] == "alpha-up"

    acknowledged = {
        event_id: receipt
        for writer in writers
        for event_id, receipt in writer.outcomes.acknowledged.items()
    }
    with http(a.base_url) as client_a, http(b.base_url) as client_b:
        wait_until(
            lambda: (
                len(list_all(client_a)) >= len(acknowledged)
                and len(list_all(client_b)) >= len(acknowledged)
            ),
            30,
            "a replica does not list every acknowledged event",
        )
        on_a, on_b = by_id(list_all(client_a)), by_id(list_all(client_b))
    assert on_a == on_b
    for event_id, receipt in acknowledged.items():
        assert event_id in on_a, f"acknowledged event {event_id} is not in the log"
        assert on_a[event_id]["position"] == receipt["position"]
