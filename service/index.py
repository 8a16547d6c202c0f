"""The in-memory read model of the log, kept current by eventsourcing's projection runner.

``LogIndex`` is a tracking recorder (the runner's "view"): every record is
applied together with its tracking position under one lock, so a reader never
sees a position whose record is not applied. ``wait`` is a condition variable,
not eventsourcing's 100 ms polling, because read-your-writes (``min_position``)
and idempotent retries wait on it.

The index lives in memory: at start the runner replays the log from position 0.
"""

import bisect
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from threading import Event
from typing import Any, Literal
from uuid import UUID

import msgspec
from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.popo import POPOTrackingRecorder
from eventsourcing.projection import Projection
from msgspec import Struct

from domain.backtests import BacktestRequest
from domain.events import BaseEvent, LoggedEvent, RetractedInfo, kind_of
from domain.records import BacktestRecord, EventRecord, ResolutionRecord, ScenarioRecord
from domain.scenarios import Resolution, ScenarioDefinition
from forecasts.model import Resolution as ModelResolution
from service.matchindex import MatchIndex

_logged_decoder = msgspec.json.Decoder(LoggedEvent)
_definition_decoder = msgspec.json.Decoder(ScenarioDefinition)
_resolution_decoder = msgspec.json.Decoder(Resolution)
_request_decoder = msgspec.json.Decoder(BacktestRequest)


class ScenarioVersion(Struct, kw_only=True):
    version: int
    position: int
    recorded_at: datetime
    definition: ScenarioDefinition


class ResolutionState(Struct, kw_only=True):
    position: int
    recorded_at: datetime
    resolution: Resolution


class ScenarioState(Struct, kw_only=True):
    id: str
    versions: list[ScenarioVersion]
    resolution: ResolutionState | None = None

    @property
    def current(self) -> ScenarioVersion:
        return self.versions[-1]

    @property
    def first_recorded_at(self) -> datetime:
        return self.versions[0].recorded_at


class BacktestState(Struct, kw_only=True):
    """A backtest job as the log tells it."""

    id: UUID
    position: int
    requested_at: datetime
    request: BacktestRequest
    status: Literal["queued", "running", "done", "failed"] = "queued"
    progress: float = 0.0
    result: str | None = None
    error: str | None = None


class _Column:
    """World events of one selection (all, or one kind) in position order."""

    __slots__ = ("events", "positions")

    def __init__(self) -> None:
        self.positions: list[int] = []
        self.events: list[Any] = []

    def add(self, event: Any) -> None:
        self.positions.append(event.position)
        self.events.append(event)

    def after(self, position: int) -> Iterator[Any]:
        start = bisect.bisect_right(self.positions, position)
        for i in range(start, len(self.events)):
            yield self.events[i]


class LogIndex(POPOTrackingRecorder):
    def __init__(self) -> None:
        super().__init__()
        self._changed = threading.Condition(self._database_lock)
        self.position = 0
        self.events: dict[UUID, Any] = {}
        self._all = _Column()
        self._by_kind: dict[str, _Column] = {}
        self.scenarios: dict[str, ScenarioState] = {}
        self.scenario_slugs: dict[UUID, str] = {}
        self.matches = MatchIndex()
        self.backtests: dict[UUID, BacktestState] = {}

    def reading(self) -> AbstractContextManager[bool]:
        """Hold off the projection while a reader evaluates (a few ms at most)."""
        return self._database_lock

    # --- applying records (called by the projection, one thread) -------------

    def add_event(
        self, event_id: UUID, body: str, recorded_at: datetime, tracking: Tracking
    ) -> None:
        self.add_events([(event_id, body, recorded_at, tracking.notification_id)])

    def add_events(self, records: list[tuple[UUID, str, datetime, int]]) -> None:
        """Apply accepted world events (id, body, recorded_at, position), in order."""
        events = []
        for event_id, body, recorded_at, position in records:
            event = _logged_decoder.decode(body)
            event.event_id = event_id
            event.position = position
            event.recorded_at = recorded_at
            events.append(event)
        with self._database_lock:
            for event in events:
                self.events[event.event_id] = event
                self._all.add(event)
                self._by_kind.setdefault(kind_of(event), _Column()).add(event)
                self.matches.add_event(
                    event, event.event_id, event.position, event.recorded_at.timestamp()
                )
                self._advance(event.position)
            self._changed.notify_all()

    def retract_event(
        self, event_id: UUID, reason: str, recorded_at: datetime, tracking: Tracking
    ) -> None:
        with self._database_lock:
            self.events[event_id].retracted = RetractedInfo(recorded_at=recorded_at, reason=reason)
            self.matches.retract(event_id, tracking.notification_id, recorded_at.timestamp())
            self._track(tracking)

    def add_scenario_version(
        self,
        record_id: UUID,
        slug: str | None,
        version: int,
        body: str,
        recorded_at: datetime,
        tracking: Tracking,
    ) -> None:
        entry = ScenarioVersion(
            version=version,
            position=tracking.notification_id,
            recorded_at=recorded_at,
            definition=_definition_decoder.decode(body),
        )
        events = self.event_tuples()
        with self._database_lock:
            if slug is None:
                slug = self.scenario_slugs[record_id]
                self.scenarios[slug].versions.append(entry)
            else:
                self.scenario_slugs[record_id] = slug
                self.scenarios[slug] = ScenarioState(id=slug, versions=[entry])
            self.matches.add_version(
                slug, version, entry.position, recorded_at, entry.definition, events
            )
            self._track(tracking)

    def event_tuples(self) -> list[tuple[BaseEvent, UUID, int, float]]:
        """Every world event applied so far: (event, id, position, recorded_at seconds)."""
        return [(e, e.event_id, e.position, e.recorded_at.timestamp()) for e in self._all.events]

    def request_backtest(
        self, backtest_id: UUID, body: str, recorded_at: datetime, tracking: Tracking
    ) -> None:
        state = BacktestState(
            id=backtest_id,
            position=tracking.notification_id,
            requested_at=recorded_at,
            request=_request_decoder.decode(body),
        )
        with self._database_lock:
            self.backtests[backtest_id] = state
            self._track(tracking)

    def update_backtest(
        self,
        backtest_id: UUID,
        tracking: Tracking,
        *,
        progress: float | None = None,
        result: str | None = None,
        error: str | None = None,
    ) -> None:
        with self._database_lock:
            state = self.backtests[backtest_id]
            if progress is not None:
                state.status, state.progress = "running", progress
            if result is not None:
                state.status, state.progress, state.result = "done", 1.0, result
            if error is not None:
                state.status, state.error = "failed", error
            self._track(tracking)

    def resolve_scenario(
        self, slug: str, body: str, recorded_at: datetime, tracking: Tracking
    ) -> None:
        resolution = ResolutionState(
            position=tracking.notification_id,
            recorded_at=recorded_at,
            resolution=_resolution_decoder.decode(body),
        )
        with self._database_lock:
            self.scenarios[slug].resolution = resolution
            self.matches.resolve(
                slug,
                ModelResolution(
                    outcome=resolution.resolution.outcome,
                    resolved_at=resolution.resolution.resolved_at.timestamp(),
                    recorded_at=recorded_at.timestamp(),
                ),
                tracking.notification_id,
            )
            self._track(tracking)

    def skip(self, tracking: Tracking) -> None:
        with self._database_lock:
            self._track(tracking)

    def _track(self, tracking: Tracking) -> None:
        self._advance(tracking.notification_id)
        self._changed.notify_all()

    def _advance(self, position: int) -> None:
        if position <= self.position:
            msg = f"position {position} applied twice (at {self.position})"
            raise IntegrityError(msg)
        self.position = position

    def max_tracking_id(self, application_name: str) -> int | None:
        with self._database_lock:
            return self.position or None

    # --- waiting --------------------------------------------------------------

    def wait(
        self,
        application_name: str,
        notification_id: int | None,
        timeout: float = 1.0,
        interrupt: Event | None = None,
    ) -> None:
        if not self.reached(notification_id, timeout):
            msg = f"position {notification_id} not applied within {timeout} s"
            raise TimeoutError(msg)

    def reached(self, position: int | None, timeout: float) -> bool:
        """Wait until ``position`` is applied; False if ``timeout`` passes first."""
        if position is None:
            return True
        with self._changed:
            return self._changed.wait_for(lambda: self.position >= position, timeout)

    # --- reading --------------------------------------------------------------

    def list_events(
        self,
        after: int,
        limit: int,
        kind: str | None = None,
        occurred_from: datetime | None = None,
        occurred_to: datetime | None = None,
    ) -> tuple[list[BaseEvent], int | None]:
        """A page of world events after a position, and the cursor of the next page
        (None when nothing more matches)."""
        column = self._all if kind is None else self._by_kind.get(kind, _Column())
        page: list[BaseEvent] = []
        for event in column.after(after):
            if occurred_from is not None and event.occurred_at < occurred_from:
                continue
            if occurred_to is not None and event.occurred_at > occurred_to:
                continue
            if len(page) == limit:
                return page, page[-1].position  # type: ignore[attr-defined]
            page.append(event)
        return page, None

    def scenario_list(self) -> list[ScenarioState]:
        with self._database_lock:
            return sorted(self.scenarios.values(), key=lambda s: s.id)


class LogProjection(Projection[LogIndex]):
    """Applies each record of the log to the index, exactly once, in order.

    Dispatch is a dict by event class: ``singledispatchmethod`` rebuilt a
    wrapper on every call, a fifth of the replay time.
    """

    name = "logindex"

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        handler = _HANDLERS.get(type(domain_event))
        if handler is None:
            self.view.skip(tracking)
        else:
            handler(self.view, domain_event, tracking)


def _recorded(view: LogIndex, e: EventRecord.Recorded, tracking: Tracking) -> None:
    view.add_event(e.originator_id, e.body, e.timestamp, tracking)


def _retracted(view: LogIndex, e: EventRecord.Retracted, tracking: Tracking) -> None:
    view.retract_event(e.originator_id, e.reason, e.timestamp, tracking)


def _defined(view: LogIndex, e: ScenarioRecord.Defined, tracking: Tracking) -> None:
    view.add_scenario_version(e.originator_id, e.slug, 1, e.body, e.timestamp, tracking)


def _revised(view: LogIndex, e: ScenarioRecord.Revised, tracking: Tracking) -> None:
    view.add_scenario_version(
        e.originator_id, None, e.originator_version, e.body, e.timestamp, tracking
    )


def _resolved(view: LogIndex, e: ResolutionRecord.Recorded, tracking: Tracking) -> None:
    view.resolve_scenario(e.slug, e.body, e.timestamp, tracking)


def _backtest_requested(view: LogIndex, e: BacktestRecord.Requested, tracking: Tracking) -> None:
    view.request_backtest(e.originator_id, e.body, e.timestamp, tracking)


def _backtest_progressed(view: LogIndex, e: BacktestRecord.Progressed, tracking: Tracking) -> None:
    view.update_backtest(e.originator_id, tracking, progress=e.progress)


def _backtest_finished(view: LogIndex, e: BacktestRecord.Finished, tracking: Tracking) -> None:
    view.update_backtest(e.originator_id, tracking, result=e.body)


def _backtest_failed(view: LogIndex, e: BacktestRecord.Failed, tracking: Tracking) -> None:
    view.update_backtest(e.originator_id, tracking, error=e.error)


_HANDLERS: dict[type, Callable[[LogIndex, Any, Tracking], None]] = {
    BacktestRecord.Requested: _backtest_requested,
    BacktestRecord.Progressed: _backtest_progressed,
    BacktestRecord.Finished: _backtest_finished,
    BacktestRecord.Failed: _backtest_failed,
    EventRecord.Recorded: _recorded,
    EventRecord.Retracted: _retracted,
    ScenarioRecord.Defined: _defined,
    ScenarioRecord.Revised: _revised,
    ResolutionRecord.Recorded: _resolved,
}
