"""On SQLite the index follows the store in the event log's own follower thread: a
commit is applied without being handed across eventsourcing's subscription threads
(its puller and its processor), and a commit through another log on the same file
(another process's) is still applied."""

import threading
from pathlib import Path
from uuid import UUID, uuid4

from domain.records import EventRecord
from service.bootstrap import open_eventlog
from service.persistence.eventlog import EventLog
from service.settings import Settings

BODY = '{"kind":"signal","occurred_at":"2025-01-01T00:00:00Z","summary":"s","label":"x"}'
RUNNER_THREADS = ("_loop_on_pull", "_process_events_loop")


def _append(log: EventLog) -> tuple[UUID, int]:
    event_id: UUID = uuid4()
    future = log.committer.submit(lambda at: [EventRecord.record(event_id, BODY, at)])
    (recording,) = future.result(timeout=10)
    position: int = recording.notification.id
    return event_id, position


def test_a_commit_is_applied_by_the_follower_alone(tmp_path: Path) -> None:
    with open_eventlog(Settings(data_dir=tmp_path)) as log:
        assert log.catch_up(10)
        event_id, position = _append(log)
        assert log.index.reached(position, 10)
        assert log.index.table.position(event_id) == position
        names = [thread.name for thread in threading.enumerate()]
        assert not [n for n in names if any(part in n for part in RUNNER_THREADS)], names
        assert log.follower.is_alive()
    assert not log.follower.is_alive()


def test_commits_through_another_log_on_the_file_are_applied(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    with open_eventlog(settings) as first, open_eventlog(settings) as second:
        assert first.catch_up(10)
        assert second.catch_up(10)
        appended = [_append(second) for _ in range(3)] + [_append(first)]
        last = max(position for _, position in appended)
        assert first.index.reached(last, 10)
        assert second.index.reached(last, 10)
        for event_id, position in appended:
            assert first.index.table.position(event_id) == position
            assert second.index.table.position(event_id) == position
