"""The forecast stream's notifier, in process, on a store with a clock the test moves:
changes replayed from the log after a position, and changes made by the tick alone.
(The stream through HTTP is tested against real servers in tests/e2e/test_stream.py.)"""

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import msgspec
import pytest

from domain.events import WorldEvent
from domain.records import EventRecord, ScenarioRecord
from domain.scenarios import ScenarioDefinition
from service.bootstrap import open_eventlog
from service.commands.events import event_body
from service.persistence.eventlog import EventLog
from service.queries.forecasting import Forecaster
from service.queries.stream import ForecastStream
from service.queries.subscribers import Subscriber
from service.settings import Settings
from tests.service.events_data import signal

DEFINITION = {
    "title": "t", "question": "q", "opens_at": "2025-01-01T00:00:00Z",
    "deadline": "2027-01-01T00:00:00Z", "prior": 0.2,
    "rules": [{"name": "r", "match": {"kind": "signal", "where": {"label": "a"}},
               "bayes_factor": 3}],
}  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class MovingLog:
    """A log on the test's store with a moving clock; every write is its own commit,
    one second after the last, so knowledge cuts tell them apart."""

    def __init__(self, log: EventLog, clock: Clock) -> None:
        self.log, self.clock = log, clock

    def _commit(self, build: Any) -> int:
        self.clock.now += timedelta(seconds=1)
        (recording, *_) = self.log.committer.submit(build).result()
        position: int = recording.notification.id
        assert self.log.index.reached(position, 10)
        return position

    def define(self, slug: str) -> int:
        body = msgspec.json.encode(msgspec.convert(DEFINITION, ScenarioDefinition)).decode()
        return self._commit(lambda at: [ScenarioRecord.define(slug, body, at)])

    def append(self, label: str = "a") -> tuple[UUID, int]:
        event_id = uuid4()
        body = event_body(msgspec.convert(signal(label), WorldEvent))  # type: ignore[arg-type]
        return event_id, self._commit(lambda at: [EventRecord.record(event_id, body, at)])

    def retract(self, event_id: UUID) -> int:
        record = self.log.get(event_id)

        def build(at: datetime) -> list[EventRecord]:
            record.retract("wrong", at)
            return [record]

        return self._commit(build)


@pytest.fixture
def moving(tmp_path: Path) -> Iterator[MovingLog]:
    clock = Clock()
    with open_eventlog(Settings(data_dir=tmp_path / "data"), clock) as log:
        assert log.catch_up(10)
        yield MovingLog(log, clock)


def forecasts(chunk: bytes) -> list[tuple[str | None, dict[str, Any]]]:
    """(id, data) of each forecast event in a chunk."""
    found = []
    for block in chunk.decode().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if fields.get("event") == "forecast":
            found.append((fields.get("id"), json.loads(fields["data"])))
    return found


async def first_chunk(stream: ForecastStream, after: int | None) -> tuple[Subscriber, bytes]:
    subscriber = stream.subscribe(None, after)
    return subscriber, await asyncio.wait_for(subscriber.queue.get(), 30)


def started(moving: MovingLog) -> ForecastStream:
    stream = ForecastStream(moving.log, Forecaster(moving.log, moving.clock, 60))
    stream.start()
    return stream


async def test_a_resume_replays_each_change_after_the_position_from_the_log(
    moving: MovingLog,
) -> None:
    defined = moving.define("alpha")
    first, p1 = moving.append()
    _, p2 = moving.append()
    moving.append("unmatched")
    p3 = moving.retract(first)
    stream = started(moving)
    try:
        _, chunk = await first_chunk(stream, defined)
        replayed = forecasts(chunk)
        _, later = await first_chunk(stream, p2)
        _, current = await first_chunk(stream, None)
    finally:
        await asyncio.to_thread(stream.stop)
    assert [(i, d["position"]) for i, d in replayed] == [(str(p), p) for p in (p1, p2, p3)]
    up1, up2, down = (d["probability"] for _, d in replayed)
    assert up1 < up2
    assert down < up2
    assert [d["position"] for _, d in forecasts(later)] == [p3]
    # the last replayed numbers are the ones served now (computed without the forecaster)
    ((_, now),) = forecasts(current)
    assert replayed[-1][1] == now


async def test_a_new_tick_streams_what_the_clock_moved_with_the_head_as_id(
    moving: MovingLog,
) -> None:
    defined = moving.define("alpha")
    moving.define("beta")
    _, head = moving.append("unmatched")
    stream = started(moving)
    try:
        subscriber, chunk = await first_chunk(stream, None)
        before = {d["scenario_id"]: d for _, d in forecasts(chunk)}
        moving.clock.now += timedelta(days=30)
        moved = forecasts(await asyncio.wait_for(subscriber.queue.get(), 30))
    finally:
        await asyncio.to_thread(stream.stop)
    assert [d["scenario_id"] for _, d in moved] == ["alpha", "beta"]
    assert [i for i, _ in moved] == [None, str(head)]  # one run: the id on its last event
    for _, data in moved:
        assert data["position"] == before[data["scenario_id"]]["position"] <= defined + 1
        assert data["probability"] != before[data["scenario_id"]]["probability"]
        assert data["as_of"] > before[data["scenario_id"]]["as_of"]


async def test_a_resume_that_would_evaluate_too_much_is_a_reset(moving: MovingLog) -> None:
    defined = moving.define("alpha")
    moving.append()
    moving.append()
    stream = started(moving)
    stream.max_replay_cuts = 1
    try:
        _, chunk = await first_chunk(stream, defined)
    finally:
        await asyncio.to_thread(stream.stop)
    assert chunk.startswith(b'event: reset\ndata: {"position":3,"reason":"horizon"}')
    assert len(forecasts(chunk)) == 1


HEAVY_RULES = 200
BATCH = 1000


class CountingForecaster(Forecaster):
    """The real forecaster, counting its evaluations of a scenario's numbers."""

    evaluated = 0

    def _evaluate(self, snapshot: Any, query: Any, page: Any) -> Any:
        self.evaluated += 1
        return super()._evaluate(snapshot, query, page)


def heavy_definition() -> str:
    rules = [
        {"name": f"every signal {i}", "match": {"kind": "signal"}, "bayes_factor": 1.00001}
        for i in range(HEAVY_RULES)
    ]
    definition = {**DEFINITION, "rules": rules}
    return msgspec.json.encode(msgspec.convert(definition, ScenarioDefinition)).decode()


async def test_a_heavy_batch_is_evaluated_once_per_interval_not_once_per_turn(
    tmp_path: Path,
) -> None:
    """Issue 13: a batch of a thousand events, each matching the 200 rules of a scenario,
    is applied in short turns of the index lock; the notifier evaluated the scenario
    after every turn (under the lock, rebuilding its arrays from every match), so the
    projection crawled. Now it evaluates at most once per ``stream_min_interval_s``;
    the last change it streams still has the id of the newest record."""
    clock = Clock()
    interval = 1.0
    settings = Settings(data_dir=tmp_path / "data", stream_min_interval_s=interval)
    with open_eventlog(settings, clock) as event_log:
        assert event_log.catch_up(10)
        moving = MovingLog(event_log, clock)
        body = heavy_definition()
        moving._commit(lambda at: [ScenarioRecord.define("heavy", body, at)])
        forecaster = CountingForecaster(event_log, clock, 60)
        stream = ForecastStream(event_log, forecaster)
        stream.start()
        try:
            subscriber, _ = await first_chunk(stream, None)
            before = forecaster.evaluated
            event = event_body(msgspec.convert(signal("a"), WorldEvent))  # type: ignore[arg-type]
            started_at = time.monotonic()
            clock.now += timedelta(seconds=1)
            committed = event_log.committer.submit(
                lambda at: [EventRecord.record(uuid4(), event, at) for _ in range(BATCH)]
            )
            last = (await asyncio.wrap_future(committed))[-1].notification.id
            received: list[tuple[str | None, dict[str, Any]]] = []
            while not received or received[-1][0] != str(last):
                chunk = await asyncio.wait_for(subscriber.queue.get(), 60)
                assert chunk is not None
                received.extend(forecasts(chunk))
            elapsed = time.monotonic() - started_at
            evaluated = forecaster.evaluated - before
        finally:
            await asyncio.to_thread(stream.stop)
    assert evaluated <= 2 + elapsed / interval
    ids = [int(i) for i, _ in received if i is not None]
    assert ids == sorted(ids)
    assert received[-1][1]["position"] == last
