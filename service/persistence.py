"""The store behind eventsourcing's own persistence settings.

SQLite (a file in the data directory) is the default. eventsourcing's SQLite
recorder has no ``subscribe()``, which its ``ProjectionRunner`` needs, so
``NotifyingSQLiteRecorder`` adds one: a subscription that pulls new
notifications as soon as this process commits, and otherwise polls every
``poll_interval_s`` (writes from another process are seen within that bound).
"""

import threading
import weakref
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import ApplicationRecorder, ListenNotifySubscription, StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteFactory

from service.settings import Settings


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


class SQLiteStoreFactory(SQLiteFactory):
    """eventsourcing's SQLite factory, with the subscribing recorder."""

    POLL_INTERVAL = "SUBSCRIPTION_POLL_S"

    def application_recorder(self) -> ApplicationRecorder:
        recorder = NotifyingSQLiteRecorder(
            datastore=self.datastore,
            poll_interval=float(self.env.get(self.POLL_INTERVAL) or "0.25"),
        )
        if self.env_create_table():
            recorder.create_table()
        return recorder


def eventsourcing_env(settings: Settings) -> dict[str, str]:
    """The eventsourcing environment for the store these settings name."""
    if settings.database_url is not None:
        msg = "PostgreSQL support arrives with the scale-out work (TRADEWINDS_DATABASE_URL)"
        raise NotImplementedError(msg)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return {
        "PERSISTENCE_MODULE": "service.persistence:SQLiteStoreFactory",
        "SQLITE_DBNAME": str(settings.sqlite_path),
        "SQLITE_LOCK_TIMEOUT": "30",
        SQLiteStoreFactory.POLL_INTERVAL: str(settings.poll_interval_s),
        **settings.extra_env,
    }
