"""A batch's rows go to SQLite in one ``executemany`` under the commit lock, their
positions taken from the head read under it (issue 19); every position answered is
still the row's rowid as stored, whoever else writes to the file."""

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from domain.records import EventRecord, RequestRecord
from service.bootstrap import open_eventlog
from service.commands.events import creation_event
from service.persistence.committer import Build, NewRecords
from service.persistence.environment import eventsourcing_env
from service.persistence.eventlog import EventLog, TradewindsStore
from service.persistence.sqlitestore import ONE_STATEMENT_FROM, NotifyingSQLiteRecorder
from service.persistence.transcoder import stored_events
from service.settings import Settings

BODY = '{"kind":"signal","occurred_at":"2025-01-01T00:00:00Z","summary":"s","label":"x"}'
AT = datetime(2026, 1, 1, tzinfo=UTC)
LARGEST_ROWID = 2**63 - 1
MANY = ONE_STATEMENT_FROM + 8
"""Rows enough for one ``executemany``."""


def batch(ids: list[UUID]) -> Build:
    return lambda at: [NewRecords([creation_event(i, BODY, at) for i in ids])]


def mixed(ids: list[UUID]) -> Build:
    """New records, an aggregate's creation, and a request record, in one job."""
    return lambda at: [
        NewRecords([creation_event(i, BODY, at) for i in ids[1:]]),
        EventRecord.record(ids[0], BODY, at),
        RequestRecord.record(uuid4().hex, "fingerprint", at),
    ]


def committed(log: EventLog, build: Build) -> list[tuple[int, UUID, int]]:
    """(position, originator id, version) of each event the commit answers."""
    recordings = log.committer.submit(build).result(timeout=10)
    return [
        (r.notification.id, r.domain_event.originator_id, r.domain_event.originator_version)
        for r in recordings
    ]


def stored(recorder: NotifyingSQLiteRecorder) -> list[tuple[int, UUID, int]]:
    """(rowid, originator id, version) of every stored row."""
    with recorder.datastore.transaction(commit=False) as c:
        c.execute(
            "SELECT rowid, originator_id, originator_version "
            f"FROM {recorder.events_table_name} ORDER BY rowid"
        )
        return [(row[0], UUID(row[1]), row[2]) for row in c.fetchall()]


def sqlite_recorder(log: EventLog) -> NotifyingSQLiteRecorder:
    recorder = log.app.recorder
    assert isinstance(recorder, NotifyingSQLiteRecorder)
    return recorder


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def log(sqlite_settings: Settings) -> Iterator[EventLog]:
    with open_eventlog(sqlite_settings) as event_log:
        yield event_log


@pytest.fixture
def app(sqlite_settings: Settings) -> Iterator[TradewindsStore]:
    """The store alone (no writer, no projection): the test makes every insert."""
    store = TradewindsStore(eventsourcing_env(sqlite_settings))
    yield store
    store.close()


def new_rows(app: TradewindsStore, count: int) -> list[StoredEvent]:
    return stored_events(app.mapper, [creation_event(uuid4(), BODY, AT) for _ in range(count)])


def foreign_insert(recorder: NotifyingSQLiteRecorder, row: StoredEvent, rowid: int) -> None:
    """A row written, at this rowid, by a connection that ignores the commit lock."""
    connection = sqlite3.connect(recorder.datastore.pool.db_name, uri=True)
    with connection:
        connection.execute(
            f"INSERT INTO {recorder.events_table_name} "
            "(rowid, originator_id, originator_version, topic, state) VALUES (?,?,?,?,?)",
            (
                rowid,
                str(row.originator_id).replace("-", ""),
                row.originator_version,
                row.topic,
                row.state,
            ),
        )
    connection.close()


def by_key(recorder: NotifyingSQLiteRecorder, rows: list[StoredEvent]) -> list[int]:
    """The rowid each row was stored at, read back by its key."""
    found = recorder.positions_of([UUID(str(r.originator_id)) for r in rows])
    return [found[UUID(str(r.originator_id))] for r in rows]


def test_positions_answered_are_the_rowids_stored_for_batches_and_single_records(
    log: EventLog,
) -> None:
    answered = []
    for size in (3, 1, MANY, 2, ONE_STATEMENT_FROM, 1, ONE_STATEMENT_FROM - 1, 200):
        answered += committed(log, batch([uuid4() for _ in range(size)]))
    answered += committed(log, mixed([uuid4() for _ in range(5)]))
    assert [p for p, _, _ in answered] == list(range(1, len(answered) + 1))
    assert answered == stored(sqlite_recorder(log))


def test_positions_are_right_after_another_replicas_commits(sqlite_settings: Settings) -> None:
    with open_eventlog(sqlite_settings) as first, open_eventlog(sqlite_settings) as second:
        answered = []
        for turn in range(6):
            writer = (first, second)[turn % 2]
            answered += committed(writer, batch([uuid4() for _ in range(MANY - 3 + turn)]))
        assert sorted(answered) == stored(sqlite_recorder(first))
        assert [p for p, _, _ in answered] == list(range(1, len(answered) + 1))


def test_a_batch_after_a_write_that_ignored_the_lock_gets_its_stored_rowids(
    app: TradewindsStore,
) -> None:
    """The head read under the lock is stale: the check in the transaction sees the
    rows did not land at head+1..head+n, and their positions are read by key."""
    recorder = app.recorder
    assert isinstance(recorder, NotifyingSQLiteRecorder)
    recorder.insert_events(new_rows(app, 2))
    rows = new_rows(app, MANY)
    with recorder.commit_lock() as head:
        assert head == 2
        foreign_insert(recorder, new_rows(app, 1)[0], 3)
        positions = recorder.insert_events(rows)
    assert positions == by_key(recorder, rows) == list(range(4, 4 + MANY))


def test_a_batch_where_sqlite_picks_rowids_at_random_gets_its_stored_rowids(
    app: TradewindsStore,
) -> None:
    """With the largest rowid taken, SQLite picks new rowids at random: not head+1..."""
    recorder = app.recorder
    assert isinstance(recorder, NotifyingSQLiteRecorder)
    foreign_insert(recorder, new_rows(app, 1)[0], LARGEST_ROWID)
    rows = new_rows(app, MANY)
    with recorder.commit_lock() as head:
        assert head == LARGEST_ROWID
        positions = recorder.insert_events(rows)
    assert positions == by_key(recorder, rows)
    assert positions is not None
    assert len(set(positions)) == len(rows)


def test_a_repeated_key_in_a_batch_stores_none_of_it(app: TradewindsStore) -> None:
    recorder = app.recorder
    assert isinstance(recorder, NotifyingSQLiteRecorder)
    rows = new_rows(app, MANY)
    with recorder.commit_lock(), pytest.raises(IntegrityError):
        recorder.insert_events([*rows, rows[1]])
    assert recorder.probe() == 0
    with recorder.commit_lock() as head:
        assert recorder.insert_events(rows) == list(range(head + 1, head + 1 + MANY))
    assert by_key(recorder, rows) == list(range(1, 1 + MANY))


def test_a_batch_with_a_taken_id_fails_its_job_alone(log: EventLog) -> None:
    taken = uuid4()
    committed(log, batch([taken]))
    doomed = log.committer.submit(batch([uuid4(), taken, *(uuid4() for _ in range(MANY))]))
    fine = log.committer.submit(batch([uuid4() for _ in range(MANY)]))
    with pytest.raises(IntegrityError):
        doomed.result(timeout=10)
    answered = fine.result(timeout=10)
    assert [r.notification.id for r in answered] == list(range(2, 2 + MANY))
    assert len(stored(sqlite_recorder(log))) == 1 + MANY
