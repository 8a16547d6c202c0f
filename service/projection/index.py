"""The in-memory read model of the log.

``LogIndex`` is a tracking recorder: every record is applied together with its
tracking position under one lock, so a reader never sees a position whose record
is not applied. Records reach it in position order from the bulk catch-up at
start (``catchup``), then from the writer's hand-over of its own commits and the
follower's reads of other processes' commits (SQLite), or from eventsourcing's
projection runner (PostgreSQL); ``LogProjection`` (``logprojection``) applies
them. ``wait`` is a condition variable, not eventsourcing's 100 ms polling,
because read-your-writes (``min_position``) and idempotent retries wait on it.

The index lives in memory: at start the log is replayed from position 0.
"""

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from threading import Event
from typing import Any, NamedTuple, cast
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, IntegrityError, Tracking
from eventsourcing.popo import POPOTrackingRecorder

from domain.codecs import resolution_decoder, stored_definition
from domain.codecs import stored_request as _stored_request
from domain.events import BaseEvent, RetractedInfo
from service.projection.alertindex import ALERT_HANDLERS, AlertIndex
from service.projection.eventdecoders import Identified, decoder_for
from service.projection.eventtable import KIND_CODE_OF, EventTable
from service.projection.matchindex import MatchIndex, scan
from service.projection.packedbodies import PACK
from service.projection.readerturn import ReaderTurn
from service.projection.states import (
    BacktestState,
    ResolutionState,
    RetractionState,
    ScenarioState,
    ScenarioVersion,
)
from service.projection.storedbodies import CACHE, KeptBodies, StateReader, StoredBodies
from service.projection.watchers import PositionWatchers

HOLD_S = 0.005
"""The longest turn the projection holds the index lock for when applying a run
of events, before it lets readers in."""


RUN = 64
"""Events applied at once within a turn of the lock (``_apply_run``)."""


def _follows(positions: Sequence[int], position: int) -> bool:
    """Whether ``positions`` are consecutive and follow ``position`` (the common case,
    checked at C speed; otherwise each is checked in turn)."""
    first = positions[0]
    return (
        first > position
        and positions[-1] - first == len(positions) - 1
        and (len(positions) < 3 or tuple(positions) == tuple(range(first, first + len(positions))))
    )


def _timestamps(times: Sequence[datetime]) -> list[float]:
    """Each time in seconds (``datetime.timestamp()``), computed once per run of equal
    times: the events of one commit share its recorded_at."""
    found: list[float] = []
    last: datetime | None = None
    seconds = 0.0
    for moment in times:
        if moment is not last and moment != last:
            seconds = moment.timestamp()
        last = moment
        found.append(seconds)
    return found


class Planned(NamedTuple):
    """What ``LogIndex.add_events`` works out before the lock, per event in order."""

    events: list[BaseEvent | Identified]
    keys: Sequence[bytes]
    bodies: Sequence[str]
    codes: list[int]
    """Each event's kind (``eventtable.KIND_CODES``)."""
    occurred: list[float]
    positions: Sequence[int]
    recorded: list[float]
    found: dict[int, list[tuple[str, int]]]
    """The rules each event matches, by its index (``LogIndex._matched``)."""
    duplicates: tuple[list[bytes], list[int]]
    """The events' identities and keys (``DuplicateIndex.planned``)."""


class LogIndex(POPOTrackingRecorder):
    def __init__(
        self, store: ApplicationRecorder | None = None, cache: int = CACHE, pack: int = PACK
    ) -> None:
        """With the ``store`` the log is read from, event bodies are read back from it
        (all but the latest ``cache``: ``storedbodies``); without, all are kept in memory.
        Scans by kind keep what they read in packs of ``pack`` (``packedbodies``)."""
        super().__init__()
        assert store is None or isinstance(store, StateReader)
        self._changed = threading.Condition(self._database_lock)
        self._alerts_changed = threading.Condition(self._database_lock)
        self._reader_turn = ReaderTurn(self._database_lock)
        self._watchers = PositionWatchers()
        self.position = 0
        bodies = KeptBodies() if store is None else StoredBodies(store, cache)
        self.table = EventTable(bodies, pack)
        self.scenarios: dict[str, ScenarioState] = {}
        self.scenario_slugs: dict[UUID, str] = {}
        self.resolution_slugs: dict[UUID, str] = {}
        self.matches = MatchIndex()
        self.backtests: dict[UUID, BacktestState] = {}
        self.alerts = AlertIndex()

    def reading(self) -> AbstractContextManager[bool]:
        """Hold off the projection while a reader evaluates (a few ms at most); a
        reader waiting for the lock gets it before the projection's next record
        (``readerturn``)."""
        return self._reader_turn

    def free_to_apply(self) -> bool:
        """Whether the index lock is free now and no reader waits for it. The writer
        applies its own commits only then: it must not wait on a reader, or every
        commit would wait with it (the follower applies them otherwise)."""
        if self._reader_turn.waiting or not self._database_lock.acquire(blocking=False):
            return False
        self._database_lock.release()
        return True

    # --- applying records (called by the projection, one thread) -------------

    def add_event(
        self, event_id: UUID, body: str, recorded_at: datetime, tracking: Tracking
    ) -> None:
        self.add_events([(event_id.bytes, body, recorded_at, tracking.notification_id)])

    def add_events(self, records: list[tuple[bytes, str, datetime, int]]) -> None:
        """Apply accepted world events (id as 16 bytes, body, recorded_at, position),
        in order.

        Decoding and rule matching happen before the lock (only this thread changes
        the rule index); the lock is then taken in turns of at most ``HOLD_S``, so a
        long run (a catch-up page, a thousand events matching hundreds of rules)
        lets readers in between. Events are applied in runs of ``RUN`` (the table's
        arrays and key indexes extended at once); the position advances after each
        run is applied in full. Only events of kinds a current rule may match are
        decoded in full (``eventdecoders``). Every column is made once for all the
        records (``Planned``), and a run takes slices of them."""
        if records:
            self.add_columns(*zip(*records, strict=True))

    def add_columns(
        self,
        keys: Sequence[bytes],
        bodies: Sequence[str],
        times: Sequence[datetime],
        positions: Sequence[int],
    ) -> None:
        """``add_events`` of the events given as columns (``catchup.apply_recordings``
        makes them so: no tuple per event)."""
        if len(keys) == 1:
            self._add_one(keys[0], bodies[0], times[0], positions[0])
            return
        decode = decoder_for(self.matches.ruled_kinds).decode
        events: list[BaseEvent | Identified] = [decode(body) for body in bodies]
        occurred = [event.occurred_at.timestamp() for event in events]
        plan = Planned(
            events=events,
            keys=keys,
            bodies=bodies,
            codes=[KIND_CODE_OF[type(event)] for event in events],
            occurred=occurred,
            positions=positions,
            recorded=_timestamps(times),
            found=self._matched(events),
            duplicates=self.table.duplicates.planned(events, occurred),
        )
        applied = 0
        while applied < len(events):
            with self._database_lock:
                until = time.monotonic() + HOLD_S
                while applied < len(events):
                    end = min(len(events), applied + RUN)
                    self._apply_run(plan, applied, end)
                    applied = end
                    if time.monotonic() > until:
                        break
                self._changed.notify_all()
            self._watchers.reached(self.position)
            self._reader_turn.let_readers_in()

    def _add_one(self, key: bytes, body: str, recorded_at: datetime, position: int) -> None:
        """``add_events`` of one event (a single append's hand-over), without the
        columns and runs: the table and indexes take it row by row."""
        event = decoder_for(self.matches.ruled_kinds).decode(body)
        occurred = event.occurred_at.timestamp()
        recorded = recorded_at.timestamp()
        matched = self._matched([event]).get(0)
        (ident,), (duplicate_key,) = self.table.duplicates.planned([event], [occurred])
        with self._database_lock:
            self._check_next(position)
            table = self.table
            row = len(table)
            table.append_coded(key, body, KIND_CODE_OF[type(event)], occurred, position, recorded)
            table.duplicates.add_planned(row, ident, duplicate_key)
            if matched:
                self.matches.add_event(cast(BaseEvent, event), key, position, recorded, matched)
            self.position = position
            self._changed.notify_all()
        self._watchers.reached(position)
        self._reader_turn.let_readers_in()

    def _matched(self, events: list[BaseEvent | Identified]) -> dict[int, list[tuple[str, int]]]:
        """The (scenario, rule) pairs each event that matches any matches, by its index
        in ``events`` (none at all when no rule is current: ``MatchIndex.matching``)."""
        if not self.matches.ruled_kinds:
            return {}
        matching = self.matches.matching
        return {
            i: found
            for i, event in enumerate(events)
            if isinstance(event, BaseEvent) and (found := matching(event))
        }

    def _apply_run(self, plan: "Planned", start: int, end: int) -> None:
        """Apply events ``start`` to ``end`` of ``plan`` at once (``EventTable.extend``);
        a position applied twice stops the run there, the records before it applied."""
        if start == end:
            return
        positions = plan.positions[start:end]
        if not _follows(positions, self.position):
            last = self.position
            for i, position in enumerate(positions):
                if position <= last:
                    self._apply_run(plan, start, start + i)
                    self._check_next(position)
                last = position
        table = self.table
        first = len(table)
        recorded = plan.recorded[start:end]
        table.extend(
            plan.keys[start:end],
            plan.bodies[start:end],
            plan.codes[start:end],
            plan.occurred[start:end],
            positions,
            recorded,
        )
        idents, keys = plan.duplicates
        table.duplicates.extend(first, idents[start:end], keys[start:end])
        found = plan.found
        if found:
            add = self.matches.add_event
            for i in range(start, end):
                matched = found.get(i)
                if matched:
                    event = cast(BaseEvent, plan.events[i])
                    add(event, plan.keys[i], plan.positions[i], recorded[i - start], matched)
        self.position = positions[-1]

    def retract_event(
        self, event_id: UUID, reason: str, recorded_at: datetime, tracking: Tracking
    ) -> None:
        with self._database_lock:
            info = RetractedInfo(recorded_at=recorded_at, reason=reason)
            self.table.retract(event_id, info, tracking.notification_id)
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
            definition=stored_definition(body),
        )
        kinds = frozenset(k for rule in entry.definition.rules for k in rule.match.kinds())
        # the scan reads the append-only table, which only this thread appends to
        found = scan(entry.definition.rules, self.table.of_kinds(kinds))
        with self._database_lock:
            if slug is None:
                slug = self.scenario_slugs[record_id]
                self.scenarios[slug].versions.append(entry)
            else:
                self.scenario_slugs[record_id] = slug
                self.scenarios[slug] = ScenarioState(id=slug, versions=[entry])
            self.matches.add_version(
                slug, version, entry.position, recorded_at, entry.definition, found
            )
            self._track(tracking)

    def event_tuples(self, kinds: Iterable[str]) -> list[tuple[BaseEvent, UUID, int, float]]:
        """The world events of these kinds applied so far: (event, id, position,
        recorded_at in seconds). Callers hold ``reading()``."""
        return list(self.table.of_kinds(frozenset(kinds)))

    def request_backtest(
        self, backtest_id: UUID, body: str, recorded_at: datetime, tracking: Tracking
    ) -> None:
        state = BacktestState(
            id=backtest_id,
            position=tracking.notification_id,
            requested_at=recorded_at,
            request=_stored_request(body),
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
        self, record_id: UUID, slug: str | None, body: str, at: datetime, tracking: Tracking
    ) -> None:
        """A scenario's first resolution (``slug`` given) or one anew (``slug`` None)."""
        position = tracking.notification_id
        state = ResolutionState(
            position=position, recorded_at=at, resolution=resolution_decoder.decode(body)
        )
        with self._database_lock:
            slug = self.resolution_slugs[record_id] = slug or self.resolution_slugs[record_id]
            scenario = self.scenarios[slug]
            scenario.resolutions = [*scenario.resolutions, state]
            self.matches.resolve(slug, state.model(), position)
            self._track(tracking)

    def retract_resolution(
        self, record_id: UUID, reason: str, at: datetime, tracking: Tracking
    ) -> None:
        position = tracking.notification_id
        retraction = RetractionState(position=position, recorded_at=at, reason=reason)
        with self._database_lock:
            slug = self.resolution_slugs[record_id]
            self.scenarios[slug].resolutions[-1].retraction = retraction
            self.matches.retract_resolution(slug, position, at.timestamp())
            self._track(tracking)

    def apply_alert_record(self, record: Any, tracking: Tracking) -> None:
        """An alert or delivery record (``service.projection.alertindex``)."""
        with self._database_lock:
            ALERT_HANDLERS[type(record)](self.alerts, record, tracking.notification_id)
            self._track(tracking)
            self._alerts_changed.notify_all()

    def skip(self, tracking: Tracking) -> None:
        with self._database_lock:
            self._track(tracking)

    def _track(self, tracking: Tracking) -> None:
        self._advance(tracking.notification_id)
        self._changed.notify_all()
        self._watchers.reached(self.position)

    def _advance(self, position: int) -> None:
        self._check_next(position)
        self.position = position

    def _check_next(self, position: int) -> None:
        if position <= self.position:
            msg = f"position {position} applied twice (at {self.position})"
            raise IntegrityError(msg)

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

    def when_applied(self, position: int, callback: Callable[[], None]) -> None:
        """Call ``callback`` once ``position`` is applied (at once if it is), from the
        projection's thread: it must only hand over (``loop.call_soon_threadsafe``)."""
        self._watchers.when(position, lambda: self.position, callback)

    def wait_until(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Wait (up to ``timeout``) until ``condition``, checked whenever a record is
        applied or ``wake`` is called; False if the time passed first."""
        with self._changed:
            return self._changed.wait_for(condition, timeout)

    def wait_for_alerts(self, condition: Callable[[], bool], timeout: float) -> bool:
        """``wait_until``, checked only when an alert or delivery record is applied (or
        on ``wake``): not woken by every record (issue 19)."""
        with self._alerts_changed:
            return self._alerts_changed.wait_for(condition, timeout)

    def wake(self) -> None:
        """Have every waiter check its condition again."""
        with self._changed:
            self._changed.notify_all()
            self._alerts_changed.notify_all()

    # --- reading --------------------------------------------------------------

    def list_events(
        self,
        after: int,
        limit: int,
        kind: str | None = None,
        occurred_from: datetime | None = None,
        occurred_to: datetime | None = None,
    ) -> tuple[list[Any], int | None]:
        """A page of world events after a position, and the cursor of the next page
        (None when nothing more matches)."""
        return self.table.page(
            after,
            limit,
            kind,
            None if occurred_from is None else occurred_from.timestamp(),
            None if occurred_to is None else occurred_to.timestamp(),
        )

    def scenario_list(self) -> list[ScenarioState]:
        with self._database_lock:
            return sorted(self.scenarios.values(), key=lambda s: s.id)
