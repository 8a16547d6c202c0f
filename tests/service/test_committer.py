"""Group commit: concurrent jobs share a transaction, each stays all-or-nothing."""

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import msgspec
import pytest
from eventsourcing.persistence import IntegrityError

from domain.records import EventRecord
from service.log import EventLog
from service.settings import Settings

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
    with EventLog(settings, clock) as event_log:
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


def test_recorded_at_never_goes_back_when_the_clock_does(
    log: EventLog, clock: SteppedClock
) -> None:
    first = log.committer.submit(records(uuid4())).result(timeout=5)[0]
    clock.now -= timedelta(hours=1)
    second = log.committer.submit(records(uuid4())).result(timeout=5)[0]
    assert second.domain_event.timestamp > first.domain_event.timestamp  # type: ignore[attr-defined]


def test_stop_commits_what_was_submitted(settings: Settings) -> None:
    event_log = EventLog(settings)
    event_log.start()
    futures = [event_log.committer.submit(records(uuid4())) for _ in range(20)]
    event_log.close()
    assert all(len(f.result(timeout=0)) == 1 for f in futures)
    with EventLog(settings) as reopened:
        assert reopened.head() == 20


def test_a_commit_wakes_the_projection_without_waiting_for_the_poll(settings: Settings) -> None:
    """With polling every minute, only the wake-up on commit can apply the event in time."""
    slow_poll = msgspec.structs.replace(settings, poll_interval_s=60.0)
    with EventLog(slow_poll) as event_log:
        assert event_log.catch_up(10)
        event_log.index.reached(1, 0.5)  # let the runner take over from the bulk catch-up
        for _ in range(3):
            (recording,) = event_log.committer.submit(records(uuid4())).result(timeout=5)
            assert event_log.index.reached(recording.notification.id, 10)
