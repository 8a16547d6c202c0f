"""Group commit: concurrent jobs share a transaction, each stays all-or-nothing."""

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import msgspec
import pytest
from eventsourcing.persistence import IntegrityError

from domain.records import EventRecord
from service.bootstrap import open_eventlog
from service.commands.commit import commit
from service.commands.events import creation_event
from service.persistence.committer import NewRecords
from service.persistence.errors import StoreUnavailable
from service.persistence.eventlog import EventLog
from service.settings import Settings
from tests.support.postgres import PostgresCluster

BODY = '{"kind":"signal","occurred_at":"2025-01-01T00:00:00Z","summary":"s","label":"x"}'


class SteppedClock:
    """A clock the test moves; it can be moved backwards."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> SteppedClock:
    return SteppedClock()


@pytest.fixture
def log(settings: Settings, clock: SteppedClock) -> Iterator[EventLog]:
    with open_eventlog(settings, clock) as event_log:
        yield event_log


def records(*ids: UUID):  # type: ignore[no-untyped-def]
    return lambda recorded_at: [EventRecord.record(i, BODY, recorded_at) for i in ids]


def test_jobs_waiting_together_share_one_commit(log: EventLog) -> None:
    gate = threading.Event()
    log.committer.submit(lambda t: gate.wait(5) and [])  # holds the writer
    futures = [log.committer.submit(records(uuid4())) for _ in range(50)]
    commits_before = log.committer.commits
    gate.set()
    positions = [f.result(timeout=10)[0].notification.id for f in futures]
    assert sorted(positions) == positions
    assert len(set(positions)) == 50
    assert log.committer.commits - commits_before <= 2


def test_a_conflict_in_a_group_fails_only_its_own_job(log: EventLog) -> None:
    taken = uuid4()
    log.committer.submit(records(taken)).result(timeout=5)
    gate = threading.Event()
    log.committer.submit(lambda t: gate.wait(5) and [])
    good_before = log.committer.submit(records(uuid4(), uuid4()))
    clash = log.committer.submit(records(uuid4(), taken))
    good_after = log.committer.submit(records(uuid4()))
    gate.set()
    assert len(good_before.result(timeout=5)) == 2
    assert len(good_after.result(timeout=5)) == 1
    with pytest.raises(IntegrityError):
        clash.result(timeout=5)
    assert log.catch_up(5)
    assert len(log.index.table) == 4


def test_a_job_that_fails_to_build_does_not_stop_the_others(log: EventLog) -> None:
    def broken(recorded_at: datetime) -> list[EventRecord]:
        raise ValueError("broken")

    bad = log.committer.submit(broken)
    good = log.committer.submit(records(uuid4()))
    with pytest.raises(ValueError, match="broken"):
        bad.result(timeout=5)
    assert len(good.result(timeout=5)) == 1


def created(*ids: UUID):  # type: ignore[no-untyped-def]
    """A job of new records given as their creation events alone (``NewRecords``), as
    an append builds them."""
    return lambda recorded_at: [NewRecords([creation_event(i, BODY, recorded_at) for i in ids])]


def test_new_records_are_stored_as_their_aggregates_are(log: EventLog) -> None:
    bare, built = uuid4(), uuid4()
    (first,) = log.committer.submit(created(bare)).result(timeout=5)
    (second,) = log.committer.submit(records(built)).result(timeout=5)
    stored_bare = log.app.recorder.select_events(bare)[0]
    stored_built = log.app.recorder.select_events(built)[0]
    assert stored_bare.topic == stored_built.topic
    assert stored_bare.originator_version == stored_built.originator_version == 1
    stamped = first.domain_event.timestamp  # type: ignore[attr-defined]
    assert stored_bare.state == stored_built.state.replace(
        second.domain_event.timestamp.isoformat().encode(),  # type: ignore[attr-defined]
        stamped.isoformat().encode(),
    )
    record = log.get(bare)
    assert isinstance(record, EventRecord)
    assert record.body == BODY
    assert log.catch_up(5)
    assert log.index.table.position(bare) == first.notification.id


def test_new_records_with_a_taken_id_store_none_of_their_job(log: EventLog) -> None:
    taken = uuid4()
    log.committer.submit(records(taken)).result(timeout=5)
    fresh = uuid4()
    with pytest.raises(IntegrityError):
        log.committer.submit(created(fresh, taken)).result(timeout=5)
    assert log.get(fresh) is None
    assert log.catch_up(5)
    assert len(log.index.table) == 1


def test_recorded_at_never_goes_back_when_the_clock_does(
    log: EventLog, clock: SteppedClock
) -> None:
    first = log.committer.submit(records(uuid4())).result(timeout=5)[0]
    clock.now -= timedelta(hours=1)
    second = log.committer.submit(records(uuid4())).result(timeout=5)[0]
    assert second.domain_event.timestamp > first.domain_event.timestamp  # type: ignore[attr-defined]


def test_stop_commits_what_was_submitted(settings: Settings) -> None:
    event_log = open_eventlog(settings)
    event_log.start()
    futures = [event_log.committer.submit(records(uuid4())) for _ in range(20)]
    event_log.close()
    assert all(len(f.result(timeout=0)) == 1 for f in futures)
    with open_eventlog(settings) as reopened:
        assert reopened.head() == 20


def test_a_commit_wakes_the_projection_without_waiting_for_the_poll(settings: Settings) -> None:
    """With polling every minute, only the wake-up on commit can apply the event in time."""
    slow_poll = msgspec.structs.replace(settings, poll_interval_s=60.0)
    with open_eventlog(slow_poll) as event_log:
        assert event_log.catch_up(10)
        event_log.index.reached(1, 0.5)  # let the runner take over from the bulk catch-up
        for _ in range(3):
            (recording,) = event_log.committer.submit(records(uuid4())).result(timeout=5)
            assert event_log.index.reached(recording.notification.id, 10)


# --- the store's outages -----------------------------------------------------------------


def commit_eventually(log: EventLog, within_s: float) -> int:
    """Submit a record until one commits (each answered, bounded); its position."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            (recording,) = log.committer.submit(records(uuid4())).result(timeout=10)
        except StoreUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
            continue
        return recording.notification.id


def test_the_writer_and_the_projection_outlive_the_server_ending_their_sessions(
    postgres_cluster: PostgresCluster, tmp_path: Path
) -> None:
    """The server ends every session while the writer holds the commit lock (as a
    restart does): the writer used to die on the advisory unlock, every later write
    hung, and the projection stopped for good."""
    settings = Settings(data_dir=tmp_path / "data", database_url=postgres_cluster.new_store())
    with open_eventlog(settings) as log:
        assert log.index.reached(commit_eventually(log, 5), 10)
        entered, gate = threading.Event(), threading.Event()

        def held(recorded_at: datetime) -> list[EventRecord]:
            entered.set()
            gate.wait(10)
            return records(uuid4())(recorded_at)

        in_lock = log.committer.submit(held)
        assert entered.wait(5)
        assert postgres_cluster.terminate_sessions() >= 2  # the lock's and the LISTEN's
        gate.set()
        with contextlib.suppress(StoreUnavailable):  # answered either way, not hung
            in_lock.result(timeout=15)

        position = commit_eventually(log, 30)
        assert log.index.reached(position, 30), "the projection did not follow the store again"
        assert log.workers.dead() == []
        deadline = time.monotonic() + 10
        while not log.ready() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert log.not_ready_because() is None


def test_a_write_to_a_stopped_writer_fails_at_once(settings: Settings) -> None:
    event_log = open_eventlog(settings)
    event_log.start()
    event_log.close()
    with pytest.raises(StoreUnavailable):
        event_log.committer.submit(records(uuid4())).result(timeout=5)
    assert event_log.workers.dead() == []  # stopping is not dying


def test_a_job_given_up_before_the_writer_took_it_is_not_committed(log: EventLog) -> None:
    gate = threading.Event()
    log.committer.submit(lambda t: gate.wait(5) and [])  # holds the writer
    abandoned_id = uuid4()
    abandoned = log.committer.submit(records(abandoned_id))
    assert abandoned.cancel()
    gate.set()
    position = commit_eventually(log, 5)
    assert log.index.reached(position, 10)
    assert log.get(abandoned_id) is None


def test_an_update_waits_for_its_commit_no_longer_than_the_commit_timeout(
    settings: Settings,
) -> None:
    """``update`` (the backtest lease, the webhook deliveries) waited for ever."""
    quick = msgspec.structs.replace(settings, commit_timeout_s=0.5)
    with open_eventlog(quick) as log:
        record_id = uuid4()
        log.committer.submit(records(record_id)).result(timeout=5)
        record = log.get(record_id)
        entered, gate = threading.Event(), threading.Event()
        log.committer.submit(lambda t: entered.set() or (gate.wait(10) and []))
        assert entered.wait(5)  # the writer is stuck, before the update is submitted
        try:
            with pytest.raises(StoreUnavailable, match="not stored"):
                log.committer.update(record, lambda r, at: r.retract("why", at))
        finally:
            gate.set()
        assert log.get(record_id).retraction is None


# --- a command's wait for its commit, on the event loop -----------------------------------


def test_a_command_is_answered_with_its_commit(log: EventLog) -> None:
    record_id = uuid4()
    (recording,) = asyncio.run(commit(log, records(record_id)))
    assert recording.domain_event.originator_id == record_id
    assert log.get(record_id) is not None


def test_a_command_waits_no_longer_than_the_commit_timeout_and_its_job_is_dropped(
    settings: Settings,
) -> None:
    quick = msgspec.structs.replace(settings, commit_timeout_s=0.3)
    with open_eventlog(quick) as event_log:
        entered, gate = threading.Event(), threading.Event()
        event_log.committer.submit(lambda t: entered.set() or (gate.wait(10) and []))
        assert entered.wait(5)
        record_id = uuid4()
        try:
            with pytest.raises(StoreUnavailable):
                asyncio.run(commit(event_log, records(record_id)))
        finally:
            gate.set()
        assert event_log.index.reached(commit_eventually(event_log, 5), 10)
        assert event_log.get(record_id) is None


def test_a_command_cancelled_while_waiting_drops_its_job(log: EventLog) -> None:
    """A request whose client went away (its task cancelled) is not committed if the
    writer had not taken it yet."""
    entered, gate = threading.Event(), threading.Event()
    log.committer.submit(lambda t: entered.set() or (gate.wait(10) and []))
    assert entered.wait(5)
    record_id = uuid4()

    async def cancel_while_waiting() -> None:
        waiting = asyncio.create_task(commit(log, records(record_id)))
        await asyncio.sleep(0.05)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting

    try:
        asyncio.run(cancel_while_waiting())
    finally:
        gate.set()
    assert log.index.reached(commit_eventually(log, 5), 10)
    assert log.get(record_id) is None
