"""The log: the eventsourcing application, its group-committing writer and its
projected index, started and stopped together. This is the composition root of
everything stateful; the HTTP app and the command line both build one."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import Transcoder
from eventsourcing.projection import ProjectionRunner

from service.committer import GroupCommitter
from service.index import LogIndex, LogProjection
from service.persistence import eventsourcing_env
from service.settings import Settings
from service.transcoder import MsgspecTranscoder


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
    def __init__(self, settings: Settings, clock: Callable[[], datetime] = utc_now) -> None:
        self.settings = settings
        env = eventsourcing_env(settings)
        env[f"{LogProjection.name.upper()}_PERSISTENCE_MODULE"] = "eventsourcing.popo"
        self._runner: ProjectionRunner[TradewindsStore, LogIndex] = ProjectionRunner(
            application_class=TradewindsStore,
            projection_class=LogProjection,
            view_class=LogIndex,
            env=env,
        )
        self.app: TradewindsStore = self._runner.app
        self.index: LogIndex = self._runner.view
        self.committer = GroupCommitter(self.app, clock, settings.group_commit_max_jobs)
        self.head_at_start = self.head()
        self._closed = False

    def __enter__(self) -> "EventLog":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        self._runner.__enter__()
        self.committer.start()

    def close(self) -> None:
        """Commit what was submitted, then stop following the log and close the store."""
        if self._closed:
            return
        self._closed = True
        self.committer.stop()
        self._runner.__exit__(None, None, None)

    def head(self) -> int:
        """The last position in the store (0 when empty)."""
        return self.app.recorder.max_notification_id() or 0

    @property
    def projection_failed(self) -> bool:
        return self._runner.is_interrupted.is_set() and not self._closed

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
