"""The commits' clock: ``recorded_at`` never decreases along the log.

The service clock is read once per commit. Several processes (replicas) may write
to one store, each with its own clock, so each commit runs under the store's
commit lock (one committer at a time, across processes): under it, the committer
reads the ``recorded_at`` of the last stored record when another process wrote
since its own last commit, and never stamps an earlier one. So ``recorded_at``
never decreases along the log's positions, as stored: every replica, and every
replay, sees the same monotonic times.
"""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

Clock = Callable[[], datetime]


class CommitClock:
    """The ``recorded_at`` of each commit, never earlier than what the store holds."""

    def __init__(self, app: Application[UUID], clock: Clock) -> None:
        self._app = app
        self._clock = clock
        self._last_time: datetime | None = None
        self._seen_position = 0

    def now(self) -> datetime:
        """The service clock (for readers; commits use ``stamp``)."""
        return self._clock()

    def stamp(self, head: int | None, own_position: int) -> datetime:
        """The time of a commit made under the commit lock (``head``: the store's last
        position as read under it; ``own_position``: this process's last commit)."""
        now = self._clock()
        floor = self._stored_floor(head, own_position)
        if floor is not None and now < floor:
            now = floor + timedelta(microseconds=1)
        self._last_time = now
        return now

    def _stored_floor(self, head: int | None, own_position: int) -> datetime | None:
        """The latest ``recorded_at`` in the store: this process's own last one, unless
        another process has committed since."""
        if head is None:
            head = self._app.recorder.max_notification_id() or 0
        if head <= max(own_position, self._seen_position):
            return self._last_time
        (notification,) = self._app.recorder.select_notifications(head, 1)
        event: Any = self._app.mapper.to_domain_event(notification)
        stored: datetime = event.timestamp
        self._seen_position = head
        if self._last_time is not None and self._last_time > stored:
            return self._last_time
        return stored
