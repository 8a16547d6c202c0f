"""The event log: the eventsourcing application, its group-committing writer and its
projected index, started and stopped together (``service.bootstrap`` builds the
parts and hands them over)."""

import contextlib
import gc
import logging
import threading
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import Recording, Transcoder
from eventsourcing.projection import BaseProjectionRunner
from eventsourcing.utils import EnvType, get_topic

from domain.records import EventRecord
from service.persistence.committer import GroupCommitter
from service.persistence.errors import StoreFull, StoreUnavailable, as_store_error
from service.persistence.sqlitestore import NotifyingSQLiteRecorder
from service.persistence.stores import Row, SharedStore
from service.persistence.transcoder import MsgspecTranscoder
from service.projection.catchup import apply_rows, catch_up, id_bytes
from service.projection.index import LogIndex
from service.projection.logprojection import LogProjection
from service.settings import Settings
from service.workers.registry import Backoff, Workers

logger = logging.getLogger("service.log")
_RECORDED = get_topic(EventRecord.Recorded)


class TradewindsStore(Application[UUID]):
    """The event store. The name is pinned: table names derive from it."""

    name = "tradewinds"

    def construct_transcoder(self) -> Transcoder:
        transcoder = MsgspecTranscoder()
        self.register_transcodings(transcoder)
        return transcoder


def utc_now() -> datetime:
    return datetime.now(UTC)


class _Waker:
    """What a SQLite commit in this process calls: it sets the follower's event."""

    def __init__(self, event: threading.Event) -> None:
        self._event = event

    def wake(self) -> None:
        self._event.set()


class EventLog:
    """Started, it catches up with the store in bulk (in a background thread, so
    the service answers ``/health/live`` meanwhile), then follows it from the
    position reached: on SQLite by catching up again after each commit of this
    process (and every poll interval, for other processes' commits), in this one
    thread; on PostgreSQL with eventsourcing's projection runner (its LISTEN
    subscription). On SQLite the runner would hand every commit across two more
    threads (its subscription's puller, then its processor), and waking a thread
    costs more CPU here than the projection's own work for a single append.

    The follower thread supervises the runner: when its subscription fails because
    the store cannot be reached (the server restarted: the LISTEN connection
    died), it catches up again from the index's position and starts a new runner,
    after a backoff delay, for as long as it takes. Any other failure ends the
    thread (``workers`` then reports it dead)."""

    def __init__(
        self,
        settings: Settings,
        env: EnvType,
        store: TradewindsStore,
        index: LogIndex,
        committer: GroupCommitter,
        workers: Workers,
    ) -> None:
        self.settings = settings
        self._env = env
        self.app = store
        self.index = index
        self._projection = LogProjection(self.index)
        self.committer = committer
        self.head_at_start = self.head()
        self._runner: BaseProjectionRunner[TradewindsStore] | None = None
        self._follower = threading.Thread(target=self._follow, name="tradewinds-projection")
        self._failure: BaseException | None = None
        self.projection_problem: StoreUnavailable | None = None
        self._closed = threading.Event()
        self._frozen = False
        self._woken = threading.Event()
        self._waker = _Waker(self._woken)
        self._applying = threading.Lock()
        self._handing_over = False
        self.handed_over = 0
        """Records the writer has applied from memory (never read back from the store)."""
        self.workers = workers
        committer.on_commit = self._hand_over

    @property
    def follower(self) -> threading.Thread:
        """The thread that catches up with the store and then follows it."""
        return self._follower

    def __enter__(self) -> "EventLog":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        self.committer.start()
        self._follower.start()

    def _follow(self) -> None:
        backoff = Backoff(0.2, 5.0)
        while not self._closed.is_set() and self._failure is None:
            try:
                self._catch_up_and_follow(backoff)
            except Exception as e:
                if self._closed.is_set():
                    return
                problem = as_store_error(e)
                if problem is None:
                    logger.exception("the projection stopped")
                    self._failure = e
                    return
                if self.projection_problem is None:
                    logger.error("the projection lost the store (%s); restarting it", problem)
                self.projection_problem = problem
                self._closed.wait(backoff.next())
            except BaseException as e:
                logger.exception("the projection stopped")
                self._failure = e
                return

    def _catch_up_and_follow(self, backoff: Backoff) -> None:
        """Apply what the store holds after the index's position, then follow it with
        a projection runner until the runner stops (raising what stopped it)."""
        with self._applying:
            catch_up(self.app, self._projection, self.index)
        if self.settings.freeze_after_catch_up and not self._frozen:
            self._frozen = True
            gc.freeze()  # the loaded index is long-lived: keep it out of collections
        recorder = self.app.recorder
        if isinstance(recorder, NotifyingSQLiteRecorder):
            self._follow_commits(recorder, backoff)
            return
        runner = BaseProjectionRunner(
            projection=self._projection,
            application_class=TradewindsStore,
            tracking_recorder=self.index,
            topics=(),
            env=self._env,
        )
        self._runner = runner
        with runner:
            if self._closed.is_set():
                return
            self._following(backoff)
            runner.run_forever()

    def _following(self, backoff: Backoff) -> None:
        """The projection follows the store (again)."""
        if self.projection_problem is not None:
            logger.warning("the projection follows the store again")
            self._check_connections()
        self.projection_problem = None
        backoff.reset()

    def _follow_commits(self, recorder: NotifyingSQLiteRecorder, backoff: Backoff) -> None:
        """Catch up after every commit to the file in this process, and at least every
        poll interval; until closed. A commit that comes while catching up sets the
        event again, so nothing committed is left waiting for the next poll."""
        recorder.wake_on_commit(self._waker, others_only=True)
        self._handing_over = True
        self._following(backoff)
        while not self._closed.is_set() and self._failure is None:
            self._woken.wait(recorder.poll_interval)
            self._woken.clear()
            with self._applying:
                catch_up(self.app, self._projection, self.index)

    def _hand_over(self, commits: list[list[Recording[UUID]]]) -> None:
        """The writer's commits, applied on its thread from what it holds (see the
        class); never raises: a failure stops the projection, as in the follower."""
        if not commits:
            return
        if not self._handing_over or not self._applying.acquire(blocking=False):
            self._woken.set()
            return
        try:
            for recordings in commits:
                if not recordings or self._failure is not None:
                    continue
                if recordings[0].notification.id != self.index.position + 1:
                    self._woken.set()
                    return
                self._apply(recordings)
                self.handed_over += len(recordings)
        except Exception as e:
            logger.exception("the projection stopped")
            self._failure = e
            self._woken.set()
        finally:
            self._applying.release()

    def _apply(self, recordings: list[Recording[UUID]]) -> None:
        """One commit's records, in position order: world events from the events the
        writer holds (decoding their stored state again cost a batch of 1000 about
        0.6 ms, issue 19), any other record as the follower applies it."""
        run: list[tuple[bytes, str, datetime, int]] = []
        others: list[Row] = []
        for recording in recordings:
            n = recording.notification
            if n.topic == _RECORDED:
                if others:
                    apply_rows(self.app, self._projection, self.index, others)
                    others = []
                event: Any = recording.domain_event
                run.append((event.originator_id.bytes, event.body, event.timestamp, n.id))
                continue
            if run:
                self.index.add_events(run)
                run = []
            others.append((n.id, id_bytes(n.originator_id), n.originator_version, n.topic, n.state))
        if others:
            apply_rows(self.app, self._projection, self.index, others)
        if run:
            self.index.add_events(run)

    def _check_connections(self) -> None:
        """The store is back: have the pool of the app (the writer's and the requests')
        drop the connections the outage killed, now, rather than one per request."""
        recorder = self.app.recorder
        if isinstance(recorder, SharedStore):
            with contextlib.suppress(Exception):
                recorder.probe()

    def close(self) -> None:
        """Commit what was submitted, then stop following the log and close the store."""
        if self._closed.is_set():
            return
        self._closed.set()
        self._woken.set()
        self.workers.stopping()
        self.committer.stop()
        runner = self._runner
        if runner is not None:
            runner.stop()
        if self._follower.is_alive():
            self._follower.join()
        self.app.close()

    def head_time(self) -> float:
        """The knowledge cut that sees the whole log as it is now (seconds)."""
        return self.committer.now().timestamp()

    def head(self) -> int:
        """The last position in the store (0 when empty)."""
        return self.app.recorder.max_notification_id() or 0

    @property
    def projection_failed(self) -> bool:
        """The projection has stopped for good (not while it restarts)."""
        if self._closed.is_set():
            return False
        return self._failure is not None or (
            self._follower.ident is not None and not self._follower.is_alive()
        )

    def caught_up(self) -> bool:
        """True once the index has applied everything the store held at start."""
        return self.index.position >= self.head_at_start

    def ready(self) -> bool:
        """Caught up, following the store, and the store takes writes."""
        return self.not_ready_because() is None

    def not_ready_because(self) -> tuple[str, str] | None:
        """Why the service should not get traffic now: (status, detail), or None."""
        if self.projection_failed:
            return "failed", "the projection has stopped; see the log"
        if not self.caught_up():
            return "catching up", "the index is replaying the store"
        if self.projection_problem is not None:
            return "projection restarting", self.projection_problem.detail
        problem = self.committer.problem
        if problem is not None:
            return ("store full" if isinstance(problem, StoreFull) else "store unavailable"), (
                problem.detail
            )
        return None

    def catch_up(self, timeout: float) -> bool:
        """Wait until the index has applied the store's current head."""
        return self.index.reached(self.head(), timeout)

    def get(self, record_id: UUID) -> Any | None:
        """The aggregate with this id, or None."""
        try:
            return self.app.repository.get(record_id)
        except AggregateNotFoundError:
            return None
