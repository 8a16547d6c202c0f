"""The SQLite store (a file in the data directory), the default.

eventsourcing's SQLite recorder has no ``subscribe()``, which its
``ProjectionRunner`` needs, so ``NotifyingSQLiteRecorder`` adds one: a
subscription that pulls new notifications as soon as this process commits, and
otherwise polls every ``poll_interval_s`` (writes from another process are seen
within that bound). Its commit lock is an ``flock`` on a file next to the
database file (see ``service.persistence.stores``), kept open by ``CommitLock``.
"""

import fcntl
import os
import sqlite3
import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, ListenNotifySubscription, StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteFactory

from service.persistence.stores import Row

ONE_STATEMENT_FROM = 32
"""Rows from which a transaction's inserts are one ``executemany``: it saves about
0.6 us a row (a batch of 1000: 3.9 -> 3.2 ms) but its check costs about 10 us, so
below some 20-30 rows the per-row inserts cost less (issue 19)."""

_IN_AT_MOST = 500
"""Positions per ``IN (...)`` query (SQLite allows 32,766 parameters)."""


class PollingSubscription(ListenNotifySubscription[SQLiteApplicationRecorder]):
    def __init__(
        self,
        recorder: SQLiteApplicationRecorder,
        gt: int | None,
        topics: Sequence[str],
        interval: float,
    ) -> None:
        self._interval = interval
        super().__init__(recorder=recorder, gt=gt, topics=topics)

    def wake(self) -> None:
        self._has_been_notified.set()

    def _loop_on_pull(self) -> None:
        try:
            self._pull()
            while not self._has_been_stopped:
                self._has_been_notified.wait(timeout=self._interval)
                self._pull()
        except BaseException as e:  # noqa: BLE001 - handed to the iterating thread, as upstream
            if self._thread_error is None:
                self._thread_error = e
            self.stop()


class Wakeable(Protocol):
    def wake(self) -> None: ...


class _Subscribers:
    """The subscriptions in this process to each database file, so that a commit
    through any recorder instance (the writer's, the projection runner's) wakes
    every subscription to that file."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_file: dict[str, weakref.WeakSet[Wakeable]] = {}

    def add(self, db_name: str, subscription: Wakeable) -> None:
        with self._lock:
            self._by_file.setdefault(db_name, weakref.WeakSet()).add(subscription)

    def wake(self, db_name: str, skip: "weakref.WeakSet[Wakeable]") -> None:
        with self._lock:
            subscriptions = [s for s in self._by_file.get(db_name, ()) if s not in skip]
        for subscription in subscriptions:
            subscription.wake()


_subscribers = _Subscribers()


class NotifyingSQLiteRecorder(SQLiteApplicationRecorder):
    def __init__(self, *args: Any, poll_interval: float = 0.25, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.poll_interval = poll_interval
        self._held = threading.local()
        """``head``: the store's head as read under the commit lock this thread holds."""
        self._last_and_top = f"SELECT last_insert_rowid(), MAX(rowid) FROM {self.events_table_name}"
        self._position_of = (
            f"SELECT rowid FROM {self.events_table_name} "
            "WHERE originator_id=? AND originator_version=?"
        )
        self._told_otherwise: weakref.WeakSet[Wakeable] = weakref.WeakSet()
        pool = self.datastore.pool
        self._commit_lock = (
            None
            if pool.is_sqlite_memory_mode
            else CommitLock(pool.db_name, self.events_table_name, pool.lock_timeout)
        )

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super().insert_events(stored_events, **kwargs)
        _subscribers.wake(self.datastore.pool.db_name, self._told_otherwise)
        return ids

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """The rows in one ``executemany`` when this thread holds the commit lock and
        there are at least ``ONE_STATEMENT_FROM``, their positions known from the head
        read under the lock; else one ``execute`` per row to read each ``lastrowid``,
        as upstream.

        The table has rowids (no ``INTEGER PRIMARY KEY``, no ``AUTOINCREMENT``) and
        rows are never deleted, so SQLite gives each new row the largest rowid plus
        one, unless that largest is the largest integer: the rows of one statement
        get head+1..head+n. That is checked in the same transaction: the last rowid
        inserted and the table's largest are both head+n (the lock was held by every
        writer meanwhile, and SQLite did not pick at random). If not, each row's
        position is looked up by its key."""
        head = getattr(self._held, "head", None)
        count = len(stored_events)
        if head is None or count < ONE_STATEMENT_FROM:
            return super()._insert_events(c, stored_events, **kwargs)
        keys = [
            s.originator_id.hex if isinstance(s.originator_id, UUID) else s.originator_id
            for s in stored_events
        ]
        c.executemany(
            self.insert_events_statement,
            [
                (key, s.originator_version, s.topic, s.state)
                for key, s in zip(keys, stored_events, strict=True)
            ],
        )
        plain = c.sqlite_cursor
        plain.row_factory = None
        last, top = plain.execute(self._last_and_top).fetchone()
        if last == top == head + count:
            return list(range(head + 1, last + 1))
        return self._positions_by_key(c, keys, stored_events)

    def _positions_by_key(
        self, c: SQLiteCursor, keys: list[str], stored_events: Sequence[StoredEvent]
    ) -> list[int]:
        positions = []
        for key, s in zip(keys, stored_events, strict=True):
            c.execute(self._position_of, (key, s.originator_version))
            positions.append(c.fetchone()[0])
        return positions

    @contextmanager
    def _holding(self, head: int) -> Iterator[int]:
        self._held.head = head
        try:
            yield head
        finally:
            self._held.head = None

    def subscribe(self, gt: int | None = None, topics: Sequence[str] = ()) -> PollingSubscription:
        subscription = PollingSubscription(self, gt, topics, self.poll_interval)
        _subscribers.add(self.datastore.pool.db_name, subscription)
        return subscription

    def wake_on_commit(self, waker: Wakeable, *, others_only: bool = False) -> None:
        """Call ``waker.wake()`` after each commit to this database file in this process
        (held weakly: the caller keeps it); ``others_only``: not after commits through
        this recorder (whose committer tells the waker's owner itself)."""
        _subscribers.add(self.datastore.pool.db_name, waker)
        if others_only:
            self._told_otherwise.add(waker)

    @contextmanager
    def commit_lock(self) -> Iterator[int]:
        if self._commit_lock is None:  # in memory: one process, the pool's interlocking
            with (
                _file_lock(Path(self.datastore.pool.db_name + ".lock")),
                self._holding(self.max_notification_id() or 0) as head,
            ):
                yield head
            return
        with self._commit_lock.held() as locked_head, self._holding(locked_head) as head:
            yield head

    def probe(self) -> int:
        return self.max_notification_id() or 0

    def read_rows(self, after: int, limit: int) -> list[Row]:
        """The recorder's own connection and table, a tuple cursor, ids left as text."""
        statement = (
            "SELECT rowid, originator_id, originator_version, topic, state "
            f"FROM {self.events_table_name} WHERE rowid>? ORDER BY rowid LIMIT ?"
        )
        with self.datastore.transaction(commit=False) as cursor:
            plain = cursor.sqlite_cursor
            plain.row_factory = None  # tuples, not the connection's ``sqlite3.Row``
            plain.execute(statement, (after, limit))
            rows: list[Row] = plain.fetchall()
            return rows

    def states_at(self, positions: Sequence[int]) -> dict[int, bytes]:
        """The stored states at these positions (``service.projection.storedbodies``)."""
        found: dict[int, bytes] = {}
        with self.datastore.transaction(commit=False) as cursor:
            plain = cursor.sqlite_cursor
            plain.row_factory = None
            for start in range(0, len(positions), _IN_AT_MOST):
                chunk = positions[start : start + _IN_AT_MOST]
                marks = ",".join("?" * len(chunk))
                plain.execute(
                    f"SELECT rowid, state FROM {self.events_table_name} WHERE rowid IN ({marks})",
                    tuple(chunk),
                )
                found.update(plain.fetchall())
        return found

    def states_between(self, first: int, last: int) -> list[tuple[int, bytes]]:
        """Every stored state from position ``first`` to ``last``, in order: a range
        read costs a quarter of a lookup by position per row."""
        with self.datastore.transaction(commit=False) as cursor:
            plain = cursor.sqlite_cursor
            plain.row_factory = None
            plain.execute(
                f"SELECT rowid, state FROM {self.events_table_name} "
                "WHERE rowid BETWEEN ? AND ? ORDER BY rowid",
                (first, last),
            )
            rows: list[tuple[int, bytes]] = plain.fetchall()
            return rows

    def positions_of(self, record_ids: Sequence[UUID]) -> dict[UUID, int]:
        found: dict[UUID, int] = {}
        statement = (
            f"SELECT rowid FROM {self.events_table_name} "
            "WHERE originator_id = ? AND originator_version = 1"
        )
        with self.datastore.transaction(commit=False) as c:
            for record_id in record_ids:
                c.execute(statement, (record_id.hex,))
                row = c.fetchone()
                if row is not None:
                    found[record_id] = row[0]
        return found


class SQLiteStoreFactory(SQLiteFactory):
    """eventsourcing's SQLite factory, with the subscribing recorder."""

    POLL_INTERVAL = "SUBSCRIPTION_POLL_S"

    def application_recorder(self) -> ApplicationRecorder:
        recorder = NotifyingSQLiteRecorder(
            datastore=self.datastore,
            poll_interval=float(self.env.get(self.POLL_INTERVAL) or "0.25"),
        )
        if self.env_create_table():
            if self.datastore.pool.is_sqlite_memory_mode:
                recorder.create_table()
            else:
                with _file_lock(Path(self.datastore.pool.db_name + ".schema.lock")):
                    recorder.create_table()
        return recorder


class CommitLock:
    """The store's commit lock as one recorder takes it: an ``flock`` on the lock file,
    which stays open between commits, then the head read on a connection of its own.

    Opening the file and borrowing a pooled connection for the head cost about 190 us
    per commit (issue 19); the lock itself, and what the head read sees, are the same:
    the ``flock`` is taken and released per commit (another recorder, in this process
    or another, holds its own open file, so they exclude each other), and the head is
    one autocommit ``SELECT``, so it reads the last commit made before the lock was
    taken. A threading lock orders the threads of this recorder, which share the file.
    The file and connection are reopened in a forked child, never shared with it."""

    def __init__(self, db_name: str, table: str, timeout: float | None) -> None:
        self._db_name = db_name
        self._path = Path(db_name + ".lock")
        self._head_statement = f"SELECT MAX(rowid) FROM {table}"
        self._timeout = timeout or 5.0
        self._threads = threading.Lock()
        self._pid = 0
        self._opened: tuple[Any, sqlite3.Connection] | None = None

    @contextmanager
    def held(self) -> Iterator[int]:
        """Hold the lock; yields the store's head (0 when empty) as read under it."""
        with self._threads:
            lock_file, connection = self._open()
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                (head,) = connection.execute(self._head_statement).fetchone()
                yield head or 0
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)

    def _open(self) -> tuple[Any, sqlite3.Connection]:
        if self._opened is None or self._pid != os.getpid():
            lock_file = self._path.open("a")
            connection = sqlite3.connect(
                self._db_name,
                uri=True,
                check_same_thread=False,
                isolation_level=None,
                timeout=self._timeout,
            )
            weakref.finalize(self, _close, lock_file, connection)
            self._opened = (lock_file, connection)
            self._pid = os.getpid()
        return self._opened


def _close(lock_file: Any, connection: sqlite3.Connection) -> None:
    connection.close()
    lock_file.close()


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` across threads and processes.

    Around table creation it also serialises a new file's first connection:
    eventsourcing switches the file to WAL there, and SQLite answers "database is
    locked" at once, without waiting out its busy timeout, when two connections
    switch together (replicas starting together on an empty data directory)."""
    with path.open("a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
