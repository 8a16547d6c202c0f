"""The log: the eventsourcing application, its group-committing writer and its
projected index, started and stopped together. This is the composition root of
everything stateful; the HTTP app and the command line both build one."""

import gc
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import Transcoder
from eventsourcing.projection import BaseProjectionRunner

from service.catchup import catch_up
from service.committer import GroupCommitter
from service.index import LogIndex, LogProjection
from service.persistence import eventsourcing_env
from service.settings import Settings
from service.transcoder import MsgspecTranscoder

log = logging.getLogger(__name__)


class TradewindsStore(Application[UUID]):
    """The event store. The name is pinned: table names derive from it."""

    name = "tradewinds"

    def construct_transcoder(self) -> Transcoder:
        transcoder = MsgspecTranscoder()
        self.register_transcodings(transcoder)
        return transcoder


def utc_now() -> datetime:
    return datetime.now(UTC)


class EventLog:
    """Started, it catches up with the store in bulk (in a background thread, so
    the service answers ``/health/live`` meanwhile), then follows it with
    eventsourcing's projection runner from the position reached."""

    def __init__(self, settings: Settings, clock: Callable[[], datetime] = utc_now) -> None:
        self.settings = settings
        self._env = eventsourcing_env(settings)
        self.app = TradewindsStore(self._env)
        self.index = LogIndex()
        self._projection = LogProjection(self.index)
        self.committer = GroupCommitter(self.app, clock, settings.group_commit_max_jobs)
        self.head_at_start = self.head()
        self._runner: BaseProjectionRunner[TradewindsStore] | None = None
        self._follower = threading.Thread(target=self._follow, name="tradewinds-catch-up")
        self._failure: BaseException | None = None
        self._closed = threading.Event()

    def __enter__(self) -> "EventLog":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        self.committer.start()
        self._follower.start()

    def _follow(self) -> None:
        try:
            catch_up(self.app, self._projection, self.index)
            if self.settings.freeze_after_catch_up:
                gc.freeze()  # the loaded index is long-lived: keep it out of collections
            if self._closed.is_set():
                return
            self._runner = BaseProjectionRunner(
                projection=self._projection,
                application_class=TradewindsStore,
                tracking_recorder=self.index,
                topics=(),
                env=self._env,
            )
            self._runner.__enter__()
        except BaseException as e:
            log.exception("the projection stopped")
            self._failure = e

    def close(self) -> None:
        """Commit what was submitted, then stop following the log and close the store."""
        if self._closed.is_set():
            return
        self._closed.set()
        self.committer.stop()
        if self._follower.is_alive():
            self._follower.join()
        if self._runner is not None:
            self._runner.__exit__(None, None, None)
        self.app.close()

    def head_time(self) -> float:
        """The knowledge cut that sees the whole log as it is now (seconds)."""
        return self.committer.now().timestamp()

    def head(self) -> int:
        """The last position in the store (0 when empty)."""
        return self.app.recorder.max_notification_id() or 0

    @property
    def projection_failed(self) -> bool:
        if self._closed.is_set():
            return False
        runner_stopped = self._runner is not None and self._runner.is_interrupted.is_set()
        return self._failure is not None or runner_stopped

    def ready(self) -> bool:
        """True once the index has applied everything the store held at start."""
        return not self.projection_failed and self.index.position >= self.head_at_start

    def catch_up(self, timeout: float) -> bool:
        """Wait until the index has applied the store's current head."""
        return self.index.reached(self.head(), timeout)

    def get(self, record_id: UUID) -> Any | None:
        """The aggregate with this id, or None."""
        try:
            return self.app.repository.get(record_id)
        except AggregateNotFoundError:
            return None
