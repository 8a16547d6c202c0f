"""The PostgreSQL store (``TRADEWINDS_DATABASE_URL=postgresql://...``).

eventsourcing's own recorder (psycopg 3 and its pool; ``subscribe()`` is
LISTEN/NOTIFY), so several replicas can share one log; its commit lock is a
session advisory lock (see ``service.persistence.stores``).

The recorder does not retry a commit by itself (eventsourcing's recorder does, ten
times, which held the writer for up to a minute while the server was down, and a
retry after the connection dropped no longer holds the commit lock): the group
committer fails the commit's requests promptly and tries again with backoff.
"""

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import ApplicationRecorder, InterfaceError, OperationalError
from eventsourcing.postgres import (
    PostgresApplicationRecorder,
    PostgresFactory,
    PostgresSubscription,
)
from eventsourcing.utils import retry
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from service.persistence.stores import Row

logger = logging.getLogger("service.persistence")


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
        self._rows_statement = SQL(
            "SELECT notification_id, uuid_send(originator_id), originator_version, topic, state "
            "FROM {0}.{1} WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
        ).format(Identifier(self.datastore.schema), Identifier(self.events_table_name))

        self._range_statement = SQL(
            "SELECT notification_id, state FROM {0}.{1} "
            "WHERE notification_id BETWEEN %s AND %s ORDER BY notification_id"
        ).format(Identifier(self.datastore.schema), Identifier(self.events_table_name))
        self._states_statement = SQL(
            "SELECT notification_id, state FROM {0}.{1} WHERE notification_id = ANY(%s)"
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

    @retry((InterfaceError, OperationalError), max_attempts=2, wait=0.2)
    def read_rows(self, after: int, limit: int) -> list[Row]:
        """Binary results as tuples: the id's 16 bytes (``uuid_send``) and the state as
        bytes, with no ``dict`` per row (the pool's row factory), ``UUID`` or
        ``Notification``."""
        with (
            self.datastore.get_connection() as conn,
            conn.cursor(row_factory=tuple_row, binary=True) as curs,
        ):
            curs.execute(self._rows_statement, (after, limit), prepare=True)
            return curs.fetchall()

    @retry((InterfaceError, OperationalError), max_attempts=2, wait=0.2)
    def states_at(self, positions: Sequence[int]) -> dict[int, bytes]:
        """The stored states at these positions (``service.projection.storedbodies``)."""
        with (
            self.datastore.get_connection() as conn,
            conn.cursor(row_factory=tuple_row, binary=True) as curs,
        ):
            curs.execute(self._states_statement, (list(positions),), prepare=True)
            return dict(curs.fetchall())

    @retry((InterfaceError, OperationalError), max_attempts=2, wait=0.2)
    def states_between(self, first: int, last: int) -> list[tuple[int, bytes]]:
        """Every stored state from position ``first`` to ``last``, in order."""
        with (
            self.datastore.get_connection() as conn,
            conn.cursor(row_factory=tuple_row, binary=True) as curs,
        ):
            curs.execute(self._range_statement, (first, last), prepare=True)
            return curs.fetchall()

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
