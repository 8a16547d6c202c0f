"""The writer hands what it committed to the event log before answering anyone: on
SQLite the index applies the writer's own commits from memory (not read back from
the store), and still reads what another process committed in between."""

import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import msgspec
import pytest
from eventsourcing.persistence import Recording

from domain.records import EventRecord
from service.bootstrap import open_eventlog
from service.persistence.eventlog import EventLog
from service.settings import Settings

BODY = '{"kind":"signal","occurred_at":"2025-01-01T00:00:00Z","summary":"s","label":"x"}'
SLOW_POLL_S = 60.0
"""Polling so slow that only a hand-over or a wake-up can apply a commit in a test's time."""

OTHER_PROCESS = """
import sys
from pathlib import Path
from uuid import UUID
from domain.records import EventRecord
from service.bootstrap import open_eventlog
from service.settings import Settings

event_id = UUID(sys.argv[2])
body = sys.argv[3]
with open_eventlog(Settings(data_dir=Path(sys.argv[1]))) as log:
    future = log.committer.submit(lambda at: [EventRecord.record(event_id, body, at)])
    (recording,) = future.result(timeout=10)
    print(recording.notification.id)
"""


def records(*ids: UUID):  # type: ignore[no-untyped-def]
    return lambda recorded_at: [EventRecord.record(i, BODY, recorded_at) for i in ids]


class ReadCounter:
    """Counts the pages the index reads from the store (``read_rows``)."""

    def __init__(self, log: EventLog) -> None:
        self.pages = 0
        recorder: Any = log.app.recorder
        read_rows = recorder.read_rows

        def counted(after: int, limit: int) -> Any:
            self.pages += 1
            return read_rows(after, limit)

        recorder.read_rows = counted


@pytest.fixture
def slow_poll_log(tmp_path: Path) -> Iterator[EventLog]:
    with open_eventlog(Settings(data_dir=tmp_path, poll_interval_s=SLOW_POLL_S)) as log:
        assert log.catch_up(10)
        yield log


def append(log: EventLog) -> tuple[UUID, int]:
    event_id = uuid4()
    (recording,) = log.committer.submit(records(event_id)).result(timeout=10)
    position: int = recording.notification.id
    return event_id, position


def test_a_turn_is_handed_over_before_any_of_its_jobs_is_answered(settings: Settings) -> None:
    with open_eventlog(settings) as log:
        gate = threading.Event()
        futures: list[Future[list[Recording[UUID]]]] = []
        seen: list[tuple[list[int], list[bool]]] = []
        hand_over = log.committer.on_commit
        assert hand_over is not None

        def spy(commits: list[list[Recording[UUID]]]) -> None:
            positions = [r.notification.id for recordings in commits for r in recordings]
            seen.append((positions, [f.done() for f in futures]))
            hand_over(commits)

        log.committer.on_commit = spy
        log.committer.submit(lambda t: gate.wait(5) and [])  # holds the writer
        futures.extend(log.committer.submit(records(uuid4(), uuid4())) for _ in range(10))
        gate.set()
        answers = [[r.notification.id for r in f.result(timeout=10)] for f in futures]
        handed = [p for positions, _ in seen for p in positions]
        assert handed == [p for answer in answers for p in answer]
        for positions, dones in seen:  # the writer may have taken the jobs in two turns
            for answer, done in zip(answers, dones, strict=True):
                if set(answer) <= set(positions):
                    assert not done


def test_own_commits_are_applied_from_memory_before_they_are_answered(
    slow_poll_log: EventLog,
) -> None:
    log = slow_poll_log
    reads = ReadCounter(log)
    appended = []
    for _ in range(3):
        event_id, position = append(log)
        assert log.index.position >= position  # applied before the job was answered
        appended.append((event_id, position))
    group = [uuid4() for _ in range(20)]
    recordings = log.committer.submit(records(*group)).result(timeout=10)
    assert log.index.position >= recordings[-1].notification.id
    for event_id, position in appended:
        assert log.index.table.position(event_id) == position
    for event_id, recording in zip(group, recordings, strict=True):
        assert log.index.table.position(event_id) == recording.notification.id
    assert reads.pages == 0
    assert log.handed_over == 23


def test_a_commit_of_another_process_in_between_is_read_from_the_store(
    slow_poll_log: EventLog, tmp_path: Path
) -> None:
    log = slow_poll_log
    reads = ReadCounter(log)
    first_id, first = append(log)
    other_id = uuid4()
    other = subprocess.run(
        [sys.executable, "-c", OTHER_PROCESS, str(tmp_path), str(other_id), BODY],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    other_position = int(other.stdout.split()[-1])
    assert other_position == first + 1
    own_id, own = append(log)
    assert own == other_position + 1
    assert log.index.reached(own, 10)  # the poll is a minute away: woken to read the store
    assert log.index.table.position(other_id) == other_position
    assert log.index.table.position(own_id) == own
    assert reads.pages >= 1
    handed_before = log.handed_over
    next_id, after = append(log)
    assert log.index.position >= after
    assert log.index.table.position(next_id) == after
    assert log.handed_over == handed_before + 1
    assert log.index.table.position(first_id) == first


def test_two_logs_on_one_file_each_apply_both_logs_commits_in_order(tmp_path: Path) -> None:
    """As replicas sharing the file do: each log's own commits are handed over when they
    follow its index, the other's are read; neither applies a position twice."""
    settings = Settings(data_dir=tmp_path, poll_interval_s=SLOW_POLL_S)
    with open_eventlog(settings) as first, open_eventlog(settings) as second:
        assert first.catch_up(10)
        assert second.catch_up(10)
        appended = []
        for i in range(12):
            appended.append(append(first if i % 3 else second))
        last = max(position for _, position in appended)
        for log in (first, second):
            assert log.index.reached(last, 10)
            assert not log.projection_failed
            for event_id, position in appended:
                assert log.index.table.position(event_id) == position
        assert first.handed_over + second.handed_over >= 1


def test_a_log_on_postgresql_still_follows_with_the_runner(settings: Settings) -> None:
    """Whatever the store, every commit is applied (PostgreSQL: LISTEN, no hand-over)."""
    quick = msgspec.structs.replace(settings, poll_interval_s=0.25)
    with open_eventlog(quick) as log:
        assert log.catch_up(10)
        event_id, position = append(log)
        assert log.index.reached(position, 10)
        assert log.index.table.position(event_id) == position


def test_a_reader_holding_the_index_never_holds_up_a_commit(tmp_path: Path) -> None:
    """The writer applies its own commit only when the index is free: a reader that holds
    it (or waits for it) leaves the commit to the follower, and the commit is answered."""
    with open_eventlog(Settings(data_dir=tmp_path)) as log:
        assert log.catch_up(10)
        with log.index.reading():
            seen: list[bool] = []
            other = threading.Thread(target=lambda: seen.append(log.index.free_to_apply()))
            other.start()
            other.join()
            assert seen == [False]
            event_id, position = append(log)
            assert log.index.position < position
            assert log.index.table.row_of(event_id) is None
        assert log.index.free_to_apply()
        assert log.index.reached(position, timeout=10)
        assert log.index.table.row_of(event_id) is not None
