"""Several processes on one store, in one test process: each ``EventLog`` is what a
replica holds (its own writer, its own index), sharing only the store."""

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import msgspec
import pytest

from domain.events import WorldEvent
from domain.records import EventRecord
from service.bootstrap import open_eventlog
from service.commands.events import append_events
from service.persistence.environment import eventsourcing_env
from service.persistence.eventlog import EventLog, TradewindsStore
from service.settings import Settings

BODY = '{"kind":"signal","occurred_at":"2025-01-01T00:00:00Z","summary":"s","label":"x"}'


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def event(label: str) -> WorldEvent:
    body = {"kind": "signal", "occurred_at": "2025-01-01T00:00:00Z", "summary": label}
    return msgspec.convert(body | {"label": label}, WorldEvent)


@pytest.fixture
def fast_clock() -> FixedClock:
    return FixedClock(datetime(2026, 6, 1, 12, tzinfo=UTC))


@pytest.fixture
def slow_clock() -> FixedClock:
    """An hour behind the other replica's."""
    return FixedClock(datetime(2026, 6, 1, 11, tzinfo=UTC))


@pytest.fixture
def fast(settings: Settings, fast_clock: FixedClock) -> Iterator[EventLog]:
    with open_eventlog(settings, fast_clock) as log:
        yield log


@pytest.fixture
def slow(settings: Settings, slow_clock: FixedClock) -> Iterator[EventLog]:
    with open_eventlog(settings, slow_clock) as log:
        yield log


def write(log: EventLog) -> tuple[int, datetime]:
    (recording,) = log.committer.submit(lambda at: [EventRecord.record(uuid4(), BODY, at)]).result(
        timeout=10
    )
    timestamp: datetime = recording.domain_event.timestamp  # type: ignore[attr-defined]
    return recording.notification.id, timestamp


def stored_times(settings: Settings) -> list[tuple[int, datetime]]:
    """Every record's position and recorded_at, as stored."""
    with open_eventlog(settings) as log:
        notifications = log.app.recorder.select_notifications(0, 1000, inclusive_of_start=False)
        return [
            (n.id, log.app.mapper.to_domain_event(n).timestamp)  # type: ignore[attr-defined]
            for n in notifications
        ]


def test_recorded_at_never_decreases_along_the_log_whichever_replica_writes(
    settings: Settings, fast: EventLog, slow: EventLog, slow_clock: FixedClock
) -> None:
    """The slow replica's clock is an hour behind: its commits after the fast one's
    are stamped after them all the same, as stored, so every replica and every
    replay sees the same non-decreasing times."""
    first = write(fast)
    second = write(slow)
    third = write(fast)
    fourth = write(slow)
    assert second[0] > first[0]
    assert second[1] > first[1]
    assert fourth[1] > third[1]
    times = [t for _, t in stored_times(settings)]
    assert times == sorted(times)
    assert len(times) == 4
    slow_clock.now += timedelta(hours=2)  # now ahead: its own clock counts again
    assert write(slow)[1] == slow_clock.now


def test_a_conflict_with_a_write_this_replica_has_not_applied_is_answered_from_the_store(
    settings: Settings, fast: EventLog
) -> None:
    """Replica B's index never applies anything here (its projection is not started):
    the same event_id and Idempotency-Key sent to B after A stored them are answered
    with A's receipts, read from the store."""
    lagging = open_eventlog(settings)
    lagging.committer.start()
    try:
        single = [event("a")]
        batch = [event("b"), event("c")]
        first, stored = asyncio.run(append_events(fast, single, "key-1", batch=False))
        first_batch, _ = asyncio.run(append_events(fast, batch, "key-2", batch=True))
        assert stored
        again, stored_again = asyncio.run(append_events(lagging, single, "key-1", batch=False))
        assert not stored_again
        assert again == first
        again_batch, _ = asyncio.run(append_events(lagging, batch, "key-2", batch=True))
        assert again_batch == first_batch
        by_id = [msgspec.structs.replace(event("a"), event_id=first[0].event_id)]
        by_id_again, stored_by_id = asyncio.run(append_events(lagging, by_id, None, batch=False))
        assert (by_id_again, stored_by_id) == (first, False)
        assert lagging.index.position == 0
    finally:
        lagging.close()
    assert len(stored_times(settings)) == 5  # 3 events and 2 keys, each stored once


def test_replicas_starting_together_on_an_empty_store_create_it_once(settings: Settings) -> None:
    """Every replica creates the schema on start if it is missing; racing on an empty
    PostgreSQL database, eventsourcing's CREATE statements failed with "tuple
    concurrently updated" until creation was serialised."""
    starters = 6
    barrier = threading.Barrier(starters)
    failures: list[BaseException] = []
    stores: list[TradewindsStore] = []

    def start() -> None:
        barrier.wait()
        try:
            stores.append(TradewindsStore(eventsourcing_env(settings)))
        except BaseException as e:  # noqa: BLE001 - reported below
            failures.append(e)

    threads = [threading.Thread(target=start) for _ in range(starters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.close()
    assert failures == []
    assert len(stores) == starters
