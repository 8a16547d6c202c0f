"""The store behind eventsourcing's own persistence settings.

SQLite (a file in the data directory) is the default. eventsourcing's SQLite
recorder has no ``subscribe()``, which its ``ProjectionRunner`` needs, so
``NotifyingSQLiteRecorder`` adds one: a subscription that pulls new
notifications as soon as this process commits, and otherwise polls every
``poll_interval_s`` (writes from another process are seen within that bound).

PostgreSQL (``TRADEWINDS_DATABASE_URL=postgresql://...``) is eventsourcing's
own recorder (psycopg 3 and its pool; ``subscribe()`` is LISTEN/NOTIFY), so
several replicas can share one log.

Both recorders add two things the service needs when more than one process
writes to the same log:

- ``commit_lock()``: held by the group committer from reading the clock until
  its transaction has committed, across every process on the store (a
  PostgreSQL advisory lock; an ``flock`` on a file next to the SQLite file).
  Under it, the committer reads the last stored ``recorded_at`` and never
  stamps an earlier one, so ``recorded_at`` never decreases along the log
  whichever replica wrote;
- ``positions_of(ids)``: the positions of records' first events, read from the
  store (for answering a conflict whose winner this process has not applied);
- ``probe()``: whether the store answers, through the pool's own connection check.

When the store cannot be reached or cannot take a write, ``as_store_error`` names
it: ``StoreUnavailable`` (the connection was lost, the server is restarting, a
lock timed out) or ``StoreFull`` (its disk is full). The PostgreSQL recorder does
not retry a commit by itself (eventsourcing's recorder does, ten times, which held
the writer for up to a minute while the server was down, and a retry after the
connection dropped no longer holds the commit lock): the group committer fails
the commit's requests promptly and tries again with backoff.
"""

import fcntl
import logging
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qsl, unquote, urlsplit
from uuid import UUID

import psycopg
from eventsourcing.persistence import (
    ApplicationRecorder,
    InterfaceError,
    ListenNotifySubscription,
    OperationalError,
    StoredEvent,
)
from eventsourcing.postgres import (
    PostgresApplicationRecorder,
    PostgresFactory,
    PostgresSubscription,
)
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteFactory
from eventsourcing.utils import retry
from psycopg.sql import SQL, Identifier

from service.settings import Settings

logger = logging.getLogger("service.persistence")


class StoreUnavailable(Exception):
    """The store cannot take a write (or answer a read) now; worth retrying after
    ``retry_after_s``. Raised instead of hanging: a request answers 503."""

    retry_after_s = 1

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def fresh(self) -> "StoreUnavailable":
        """The same error as a new object, for one more caller to raise (raising one
        object in many threads would grow its traceback each time)."""
        return type(self)(self.detail)


class StoreFull(StoreUnavailable):
    """The store's disk is full: nothing can be written until space is freed."""

    retry_after_s = 30


_SQLITE_FULL = "database or disk is full"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and its explicit causes (eventsourcing raises its own errors
    ``from`` the driver's); not what it was raised while handling (a bug raised
    while handling an outage is still a bug)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__


def as_store_error(exc: BaseException) -> StoreUnavailable | None:
    """What an exception from the store means for a client, or None if it is not
    about reaching or filling the store (a conflict, a bug)."""
    if isinstance(exc, StoreUnavailable):
        return exc
    causes = list(_chain(exc))
    for cause in causes:
        if isinstance(cause, psycopg.errors.DiskFull) or (
            isinstance(cause, sqlite3.OperationalError) and _SQLITE_FULL in str(cause)
        ):
            return StoreFull(f"the store's disk is full: {cause}".strip())
    reaching = (
        OperationalError,
        InterfaceError,
        psycopg.OperationalError,
        psycopg.InterfaceError,
        sqlite3.OperationalError,
    )
    if any(isinstance(cause, reaching) for cause in causes):
        return StoreUnavailable(
            f"the store is unavailable: {str(exc).strip() or type(exc).__name__}"
        )
    return None


@runtime_checkable
class SharedStore(Protocol):
    """What the service adds to eventsourcing's application recorders."""

    def commit_lock(self) -> AbstractContextManager[int]:
        """One committer at a time, across processes; gives the store's last
        position (0 when empty) as read under the lock."""

    def positions_of(self, record_ids: Sequence[UUID]) -> dict[UUID, int]:
        """The position of each record's first event, for those stored."""

    def probe(self) -> int:
        """The store's last position, read now after checking the connections to it;
        raises if the store does not answer."""


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


class _Subscribers:
    """The subscriptions in this process to each database file, so that a commit
    through any recorder instance (the writer's, the projection runner's) wakes
    every subscription to that file."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_file: dict[str, weakref.WeakSet[PollingSubscription]] = {}

    def add(self, db_name: str, subscription: PollingSubscription) -> None:
        with self._lock:
            self._by_file.setdefault(db_name, weakref.WeakSet()).add(subscription)

    def wake(self, db_name: str) -> None:
        with self._lock:
            subscriptions = list(self._by_file.get(db_name, ()))
        for subscription in subscriptions:
            subscription.wake()


_subscribers = _Subscribers()


class NotifyingSQLiteRecorder(SQLiteApplicationRecorder):
    def __init__(self, *args: Any, poll_interval: float = 0.25, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.poll_interval = poll_interval

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super().insert_events(stored_events, **kwargs)
        _subscribers.wake(self.datastore.pool.db_name)
        return ids

    def subscribe(self, gt: int | None = None, topics: Sequence[str] = ()) -> PollingSubscription:
        subscription = PollingSubscription(self, gt, topics, self.poll_interval)
        _subscribers.add(self.datastore.pool.db_name, subscription)
        return subscription

    @contextmanager
    def commit_lock(self) -> Iterator[int]:
        with _file_lock(Path(self.datastore.pool.db_name + ".lock")):
            yield self.max_notification_id() or 0

    def probe(self) -> int:
        return self.max_notification_id() or 0

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


class ListeningSubscription(PostgresSubscription):
    """eventsourcing's LISTEN/NOTIFY subscription, with two fixes:

    - upstream pulls once before its LISTEN is in place, so a commit in between
      was not seen until the next one; here the first pull after LISTEN is forced;
    - a pull at least every ``interval`` seconds regardless, a bound on how late a
      commit can be seen even if a notification were lost.
    """

    def __init__(self, recorder: "SharedPostgresRecorder", gt: int | None, interval: float) -> None:
        self._interval = interval
        super().__init__(recorder=recorder, gt=gt)

    def _listen(self) -> None:
        channel = SQL("LISTEN {0}").format(Identifier(self._recorder.channel_name))
        try:
            with self._recorder.datastore.get_connection() as conn:
                conn.execute(channel)
                self._has_been_notified.set()
                last_pull = time.monotonic()
                while not self._has_been_stopped and not self._thread_error:
                    for _ in conn.notifies(timeout=min(0.1, self._interval), stop_after=1):
                        self._has_been_notified.set()
                        last_pull = time.monotonic()
                    if time.monotonic() - last_pull >= self._interval:
                        self._has_been_notified.set()
                        last_pull = time.monotonic()
        except BaseException as e:  # noqa: BLE001 - handed to the iterating thread, as upstream
            if self._thread_error is None:
                self._thread_error = e
            self.stop()


class SharedPostgresRecorder(PostgresApplicationRecorder):
    """eventsourcing's PostgreSQL recorder, with the commit lock and position lookup."""

    poll_interval = 0.25
    probe_timeout_s = 2.0
    """A probe is made while the store is known to be down: it waits less for a
    connection than a request does (``connect_timeout``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._table = f"{self.datastore.schema}.{self.events_table_name}"
        self._lock_key = f"tradewinds commit lock: {self._table}"
        self._positions_statement = SQL(
            "SELECT originator_id, notification_id FROM {0}.{1} "
            "WHERE originator_id = ANY(%s) AND originator_version = 1"
        ).format(Identifier(self.datastore.schema), Identifier(self.events_table_name))

    @contextmanager
    def _advisory_lock(self, key: str) -> Iterator[None]:
        """A session advisory lock on a connection of its own: released by the
        server if this process dies while holding it."""
        with self.datastore.get_connection() as conn:
            conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (key,))
            try:
                yield
            finally:
                _unlock(conn, key)

    @contextmanager
    def commit_lock(self) -> Iterator[int]:
        """The advisory lock and the head read in one round trip (pipelined: the
        server runs them in order)."""
        with self.datastore.get_connection() as conn:
            with conn.pipeline():
                conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (self._lock_key,))
                head = conn.execute(self.max_notification_id_statement)
            row = head.fetchone()
            try:
                yield (row["max"] if row is not None else None) or 0
            finally:
                _unlock(conn, self._lock_key)

    # eventsourcing retries these ten times, 0.2 s apart, each waiting up to the
    # pool's timeout for a connection: up to a minute per call while the server is
    # down. A commit is not retried here (see the module docstring); reads once more.
    insert_events = PostgresApplicationRecorder.insert_events.__wrapped__
    select_notifications = retry((InterfaceError, OperationalError), max_attempts=2, wait=0.2)(
        PostgresApplicationRecorder.select_notifications.__wrapped__
    )
    max_notification_id = retry((InterfaceError, OperationalError), max_attempts=2, wait=0.2)(
        PostgresApplicationRecorder.max_notification_id.__wrapped__
    )
    select_events = retry((InterfaceError, OperationalError), max_attempts=2, wait=0.2)(
        PostgresApplicationRecorder.select_events.__wrapped__
    )

    def probe(self) -> int:
        """psycopg_pool's own check of every idle connection (the dead ones, after a
        server restart, are dropped and replaced at once, not one per request), then
        the head read on a connection from it."""
        pool = self.datastore.pool
        if pool.closed:
            with self.datastore.get_connection():
                pass  # opens the pool, as eventsourcing does on first use
        pool.check()
        with pool.connection(timeout=self.probe_timeout_s) as conn:
            row = conn.execute(self.max_notification_id_statement).fetchone()
            return (row["max"] if row is not None else None) or 0

    def create_table(self) -> None:
        """One process at a time: replicas starting together on an empty database
        (or a replica and its own projection runner) would otherwise race on
        eventsourcing's CREATE statements ("tuple concurrently updated")."""
        with self._advisory_lock(f"tradewinds schema: {self._table}"):
            super().create_table()

    def subscribe(self, gt: int | None = None, topics: Sequence[str] = ()) -> ListeningSubscription:
        if topics:
            msg = "the service subscribes to every topic"
            raise NotImplementedError(msg)
        return ListeningSubscription(self, gt, self.poll_interval)

    def positions_of(self, record_ids: Sequence[UUID]) -> dict[UUID, int]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._positions_statement, (list(record_ids),))
            return {row["originator_id"]: row["notification_id"] for row in curs.fetchall()}


def _unlock(conn: psycopg.Connection[Any], key: str) -> None:
    """Release the advisory lock. On a connection that broke meanwhile (the server
    restarted, or ended the session) the server has released it with the session;
    on one that failed otherwise, closing it (the pool then drops it) releases it."""
    if conn.broken or conn.closed:
        return
    try:
        conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))
    except psycopg.Error as e:
        logger.warning("the commit lock was released by closing its connection: %s", e)
        conn.close()


class PostgresStoreFactory(PostgresFactory):
    """eventsourcing's PostgreSQL factory, with the shared-store recorder."""

    application_recorder_class = SharedPostgresRecorder
    POLL_INTERVAL = "SUBSCRIPTION_POLL_S"

    def application_recorder(self) -> ApplicationRecorder:
        recorder = super().application_recorder()
        assert isinstance(recorder, SharedPostgresRecorder)
        recorder.poll_interval = float(self.env.get(self.POLL_INTERVAL) or "0.25")
        return recorder


# Query parameters of TRADEWINDS_DATABASE_URL, and the eventsourcing settings they set.
URL_PARAMETERS = {
    "pool_size": PostgresFactory.POSTGRES_POOL_SIZE,
    "max_overflow": PostgresFactory.POSTGRES_MAX_OVERFLOW,
    "max_waiting": PostgresFactory.POSTGRES_MAX_WAITING,
    "connect_timeout": PostgresFactory.POSTGRES_CONNECT_TIMEOUT,
    "lock_timeout": PostgresFactory.POSTGRES_LOCK_TIMEOUT,
    "idle_in_transaction_session_timeout": (
        PostgresFactory.POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT
    ),
    "conn_max_age": PostgresFactory.POSTGRES_CONN_MAX_AGE,
    "pre_ping": PostgresFactory.POSTGRES_PRE_PING,
    "schema": PostgresFactory.POSTGRES_SCHEMA,
}
URL_DEFAULTS = {"connect_timeout": "5", "pre_ping": "yes"}
"""``pre_ping``: the pool checks a connection before handing it out (psycopg_pool's
``check_connection``), so after a database restart the dead ones are replaced
instead of failing one request each."""


class DatabaseUrlError(ValueError):
    pass


def postgres_env(url: str) -> dict[str, str]:
    """eventsourcing's POSTGRES_* settings from a ``postgresql://`` URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        msg = f"TRADEWINDS_DATABASE_URL must start with postgresql://, not {parts.scheme}://"
        raise DatabaseUrlError(msg)
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname or parts.username is None:
        msg = "TRADEWINDS_DATABASE_URL needs a user and a database: postgresql://user:pw@host/db"
        raise DatabaseUrlError(msg)
    env = {
        "PERSISTENCE_MODULE": "service.persistence:PostgresStoreFactory",
        PostgresFactory.POSTGRES_DBNAME: dbname,
        PostgresFactory.POSTGRES_HOST: parts.hostname or "localhost",
        PostgresFactory.POSTGRES_PORT: str(parts.port or 5432),
        PostgresFactory.POSTGRES_USER: unquote(parts.username),
        PostgresFactory.POSTGRES_PASSWORD: unquote(parts.password or ""),
    }
    options = {**URL_DEFAULTS, **dict(parse_qsl(parts.query, keep_blank_values=True))}
    unknown = sorted(set(options) - set(URL_PARAMETERS))
    if unknown:
        msg = (
            f"unknown TRADEWINDS_DATABASE_URL parameters: {', '.join(unknown)} (known: "
            f"{', '.join(URL_PARAMETERS)}; TLS is set with libpq's PGSSLMODE, PGSSLROOTCERT)"
        )
        raise DatabaseUrlError(msg)
    for name, value in options.items():
        env[URL_PARAMETERS[name]] = value
    return env


def eventsourcing_env(settings: Settings) -> dict[str, str]:
    """The eventsourcing environment for the store these settings name."""
    if settings.database_url is not None:
        return {
            **postgres_env(settings.database_url),
            PostgresStoreFactory.POLL_INTERVAL: str(settings.poll_interval_s),
            **settings.extra_env,
        }
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return {
        "PERSISTENCE_MODULE": "service.persistence:SQLiteStoreFactory",
        "SQLITE_DBNAME": str(settings.sqlite_path),
        "SQLITE_LOCK_TIMEOUT": "30",
        SQLiteStoreFactory.POLL_INTERVAL: str(settings.poll_interval_s),
        **settings.extra_env,
    }
