"""The store behind eventsourcing's own persistence settings, and what the service
adds to eventsourcing's application recorders.

SQLite (a file in the data directory, ``service.persistence.sqlitestore``) is the
default. PostgreSQL (``TRADEWINDS_DATABASE_URL=postgresql://...``,
``service.persistence.postgresstore``) is eventsourcing's own recorder, so several
replicas can share one log. ``service.persistence.environment`` turns the settings
into eventsourcing's environment.

Both recorders add three things the service needs when more than one process
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

Both also read pages of stored records as plain tuples (``RowReader``) for the
catch-up at start (``service.projection.catchup``).
"""

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Protocol, runtime_checkable
from uuid import UUID

Row = tuple[int, str | bytes, int, str, bytes]
"""A stored record as a tuple: position, record id (its hex text on SQLite, its 16
bytes on PostgreSQL), version, topic, state."""


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


@runtime_checkable
class RowReader(Protocol):
    """Pages of stored records as tuples, without eventsourcing's ``Notification``
    and ``UUID`` per row (``select_notifications``): half of its cost."""

    def read_rows(self, after: int, limit: int) -> list[Row]:
        """At most ``limit`` records after position ``after``, in position order."""
