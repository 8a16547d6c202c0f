"""The forecast stream: which scenarios' served numbers changed, pushed to subscribers.

One notifier thread per app follows the index: when its position moves (or a
new tick of the clock begins), it evaluates the scenarios that could have moved
(``generation`` changed; on a tick every one), keeps the numbers served last,
and hands each change, encoded once as a Server-Sent Event, to every
subscriber's asyncio queue (``loop.call_soon_threadsafe``). An idle subscriber
is one queue and one suspended generator: no thread, no timer of its own
besides its heartbeat wait. The index lock is held only to copy what moved
(``Forecaster.now_or_snapshot``); the evaluation runs after it is let go, so
the projection goes on meanwhile. While records keep coming, the notifier
evaluates at most once per ``stream_min_interval_s``: the records applied in
between make one step (their changes carry the ids of the newest records
they depend on, as always), not one evaluation per turn of the projection.
Its evaluations fill the forecaster's cache of "now" answers, from which a
read-only list poll is answered while the notifier is ``progressing``.

A subscriber that resumes after a position L (``Last-Event-ID``) is registered
by the notifier itself, under the index lock, at the notifier's head H: first
the changes in (L, H] are computed from the log (knowledge cuts at the
``recorded_at`` of each record a scenario depends on, evaluated at the
notifier's current tick), then it receives live changes, which all come after
H. So nothing is missed or repeated at the seam. A resume from further back
than ``stream_horizon_positions`` (or from a position this replica has not
reached) gets a ``reset`` event and the current state instead.

Event ids: a change caused by records has the id of the newest record the
forecast depends on (its ``position``); a change caused by the tick alone has
the head's position. Several changes can share an id (one event moving several
scenarios; one tick moving all of them): only the last event of such a run
carries ``id:``, so a client cut off inside the run resumes before it and gets
the whole run again (at least once, never a gap).
"""

import asyncio
import bisect
import logging
import math
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import FrameType
from typing import Literal

import msgspec
import numpy as np

from forecasts.points import forecast_points
from service.persistence.eventlog import EventLog
from service.projection.matchindex import MatchIndex, ScenarioMatches
from service.queries.forecasting import Forecaster, NowSnapshot, Query
from service.queries.views import Forecast
from service.workers.registry import Backoff

logger = logging.getLogger("service.stream")

HEARTBEAT = b": heartbeat\n\n"
CLOSE = None
"""Put on a subscriber's queue: the stream ends (shutdown, or the subscriber fell
too far behind; it reconnects with its Last-Event-ID)."""


class StreamForecast(msgspec.Struct, kw_only=True):
    """The ``data`` of a ``forecast`` event."""

    scenario_id: str
    probability: float | None
    interval80: tuple[float, float] | None
    interval95: tuple[float, float] | None
    status: Literal["open", "resolved_yes", "resolved_no", "annulled", "expired"]
    position: int
    as_of: datetime


class StreamReset(msgspec.Struct, kw_only=True):
    """The ``data`` of a ``reset`` event: the forecast events that follow (up to the
    next event with an id) are the whole current state at ``position``."""

    position: int
    reason: Literal["start", "horizon", "ahead"]


_encoder = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class Served:
    """What was served for one scenario, and why it changed."""

    forecast: StreamForecast
    event_id: int
    cause: Literal["records", "tick"]

    @property
    def key(self) -> tuple[float | None, str]:
        return (self.forecast.probability, self.forecast.status)

    def encoded(self, *, with_id: bool) -> bytes:
        data = _encoder.encode(self.forecast)
        if with_id:
            return b"event: forecast\nid: %d\ndata: %s\n\n" % (self.event_id, data)
        return b"event: forecast\ndata: %s\n\n" % data


@dataclass(frozen=True, slots=True)
class Change:
    """A scenario's served probability moved: from ``before`` (None: first seen) to
    ``after``, by the records in (``since``, ``after.forecast.position``] or the tick."""

    before: Served | None
    after: Served
    since: int


def sse_run(changes: Iterable[Served]) -> bytes:
    """Encode changes (in id order); ``id:`` only on the last of each run of equal ids."""
    items = list(changes)
    parts = [
        item.encoded(with_id=i + 1 == len(items) or items[i + 1].event_id != item.event_id)
        for i, item in enumerate(items)
    ]
    return b"".join(parts)


def _reset(position: int, reason: Literal["start", "horizon", "ahead"], with_id: bool) -> bytes:
    data = _encoder.encode(StreamReset(position=position, reason=reason))
    if with_id:
        return b"event: reset\nid: %d\ndata: %s\n\n" % (position, data)
    return b"event: reset\ndata: %s\n\n" % data


@dataclass(eq=False)
class Subscriber:
    """One open stream: its filter, where it resumes from, and its queue."""

    loop: asyncio.AbstractEventLoop
    scenarios: frozenset[str] | None
    after: int | None
    max_queued: int
    queue: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    closed: bool = False

    def watches(self, scenario_id: str) -> bool:
        return self.scenarios is None or scenario_id in self.scenarios

    def offer(self, chunk: bytes | None) -> None:
        """From any thread: queue ``chunk`` (``CLOSE``: end the stream) on the
        subscriber's loop."""
        if self.closed or chunk == b"":
            return
        try:
            self.loop.call_soon_threadsafe(self._put, chunk)
        except RuntimeError:  # the loop is closed
            self.closed = True

    def _put(self, chunk: bytes | None) -> None:
        if self.closed:
            return
        if chunk is CLOSE or self.queue.qsize() >= self.max_queued:
            # ended, or too slow: it resumes from its last id
            self.closed = True
            chunk = CLOSE
        self.queue.put_nowait(chunk)


ChangeListener = Callable[[list[Change]], None]
Found = tuple[Forecast, int] | NowSnapshot
"""A scenario's "now" answer (forecast, position), or the snapshot to evaluate it from."""


class ForecastStream:
    """The shared notifier (one thread) and its subscribers."""

    def __init__(self, event_log: EventLog, forecaster: Forecaster) -> None:
        self.log = event_log
        self._index = event_log.index
        self._forecaster = forecaster
        settings = event_log.settings
        self.horizon = settings.stream_horizon_positions
        self.max_replay_cuts = settings.stream_replay_max_cuts
        self.max_queued = settings.stream_max_queued
        self.min_interval = settings.stream_min_interval_s
        self._evaluated_at = -math.inf
        self._stepping_since: float | None = None
        self._patience = settings.heavy_read_budget_s
        self._lock = threading.Lock()
        self._subscribers: set[Subscriber] = set()
        self._pending: list[Subscriber] = []
        self._listeners: list[ChangeListener] = []
        self._served: dict[str, Served] = {}
        self._generations: dict[str, int] = {}
        self._head = 0
        self._tick = 0.0
        self._stopping = threading.Event()
        self._started = threading.Event()
        self.thread = threading.Thread(target=self._run, name="tradewinds-stream", daemon=True)

    # --- life cycle -------------------------------------------------------------

    def start(self) -> None:
        self._forecaster.refresher = self.progressing
        self.thread.start()

    @property
    def head(self) -> int:
        """The index position the notifier's last evaluation was of."""
        return self._head

    def progressing(self) -> bool:
        """Whether the notifier evaluates what changes, promptly: running, and not in a
        step that has lasted longer than a heavy read's budget (then a poll evaluates
        for itself rather than be answered from evaluations that old)."""
        if not self._started.is_set() or self._stopping.is_set() or not self.thread.is_alive():
            return False
        since = self._stepping_since
        return since is None or time.monotonic() - since <= self._patience

    def stop(self) -> None:
        self._stopping.set()
        self._wake()
        if self.thread.is_alive():
            self.thread.join(timeout=10)
        with self._lock:
            for subscriber in [*self._subscribers, *self._pending]:
                subscriber.offer(CLOSE)
            self._subscribers.clear()
            self._pending.clear()

    def end_all(self) -> None:
        """End every open stream now (its client resumes elsewhere or later)."""
        with self._lock:
            for subscriber in [*self._subscribers, *self._pending]:
                subscriber.offer(CLOSE)

    def on_change(self, listener: ChangeListener) -> None:
        """Call ``listener`` (in the notifier thread) with every batch of changes."""
        self._listeners.append(listener)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers) + len(self._pending)

    def subscribe(self, scenarios: frozenset[str] | None, after: int | None) -> Subscriber:
        """Register a subscriber (from the event loop); its first chunk (a replay, or a
        reset and the current state) is queued by the notifier."""
        subscriber = Subscriber(asyncio.get_running_loop(), scenarios, after, self.max_queued)
        with self._lock:
            if self._stopping.is_set():
                subscriber.closed = True
                subscriber.queue.put_nowait(CLOSE)
                return subscriber
            self._pending.append(subscriber)
        self._wake()
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        subscriber.closed = True
        with self._lock:
            self._subscribers.discard(subscriber)
            if subscriber in self._pending:
                self._pending.remove(subscriber)

    def _wake(self) -> None:
        self._index.wake()

    # --- the notifier thread ----------------------------------------------------

    def _run(self) -> None:
        """Until stopped: a step that fails is logged and tried again after a backoff
        delay (the thread outlives it; a listener's own failures are its own)."""
        while not self.log.caught_up():
            if self._stopping.wait(0.05) or self.log.projection_failed:
                return
        backoff = Backoff(0.2, 5.0)
        while not self._stopping.is_set():
            try:
                if not self._started.is_set():
                    self._first_step()
                self._wait()
                if self._stopping.is_set() or self._stopping.wait(self._coalesce()):
                    return
                self._step()
            except Exception:
                logger.exception("a step of the forecast stream's notifier failed; it carries on")
                self._stopping.wait(backoff.next())
            else:
                backoff.reset()

    def _coalesce(self) -> float:
        """How long to wait before the next step: while the index moves, the records
        applied within ``stream_min_interval_s`` of the last evaluation are evaluated
        together (a run of records costs one evaluation per interval, not one per
        turn of the projection)."""
        return max(0.0, self._evaluated_at + self.min_interval - time.monotonic())

    def _first_step(self) -> None:
        with self._index.reading():
            self._head = self._index.position
            self._tick = self._forecaster.now()
            work = self._collect_locked(tick_moved=True)
        self._changes(work, since=self._head)
        self._started.set()

    def _wait(self) -> None:
        tick = self._forecaster.tick
        now = self._forecaster.clock().timestamp()
        timeout = min(1.0, max(0.01, self._tick + tick - now))

        def due() -> bool:
            return (
                self._index.position != self._head or bool(self._pending) or self._stopping.is_set()
            )

        self._index.wait_until(due, timeout)

    def _step(self) -> None:
        """A step; until one succeeds, the notifier counts as stepping since the first
        that failed (so it is not ``progressing`` for long on failing steps)."""
        if self._stepping_since is None:
            self._stepping_since = time.monotonic()
        self._evaluate_step()
        self._stepping_since = None

    def _evaluate_step(self) -> None:
        """Copy what moved under the index lock, evaluate it outside (the projection
        goes on meanwhile), hand out the changes, then register new subscribers at
        the head the changes were computed at (their replay ends there)."""
        changes: list[Change] = []
        with self._index.reading():
            head, tick = self._index.position, self._forecaster.now()
            moved = head != self._head or tick != self._tick
            if moved:
                since = self._head
                tick_moved = tick != self._tick
                self._head, self._tick = head, tick
                work = self._collect_locked(tick_moved=tick_moved)
        if moved:
            self._evaluated_at = time.monotonic()
            changes = self._changes(work, since)
        if changes:
            with self._lock:
                subscribers = list(self._subscribers)
            served = [c.after for c in changes]
            for subscriber in subscribers:
                subscriber.offer(
                    sse_run(s for s in served if subscriber.watches(s.forecast.scenario_id))
                )
            for listener in self._listeners:
                try:
                    listener(changes)
                except Exception:
                    logger.exception("a forecast change listener failed")
        with self._lock:
            pending, self._pending = self._pending, []
        if not pending:
            return
        with self._index.reading():
            first = [(s, self._first_chunk(s)) for s in pending if not s.closed]
        with self._lock:
            for subscriber, chunk in first:
                if not subscriber.closed:
                    subscriber.offer(chunk)
                    self._subscribers.add(subscriber)

    def _collect_locked(self, *, tick_moved: bool) -> list[tuple[str, bool, Found]]:
        """What may have moved since the last step, copied while the index lock is
        held: per scenario, its cached answer or the snapshot to evaluate."""
        query = Query(as_of=self._tick)
        work: list[tuple[str, bool, Found]] = []
        for scenario in self._index.matches.scenarios.values():
            moved = self._generations.get(scenario.id) != scenario.generation
            if not moved and not tick_moved:
                continue
            self._generations[scenario.id] = scenario.generation
            # the forecaster's cache for "now": a poll of GET /v1/forecasts and the
            # stream evaluate each change once between them
            found = self._forecaster.now_or_snapshot(scenario, query)
            if found is not None:
                work.append((scenario.id, moved, found))
        return work

    def _changes(self, work: list[tuple[str, bool, Found]], since: int) -> list[Change]:
        """Evaluate what was collected (without the index lock) and keep what changed."""
        query = Query(as_of=self._tick)
        changes: list[Change] = []
        for scenario_id, moved, found in work:
            forecast, position = (
                self._forecaster.finish(found, query) if isinstance(found, NowSnapshot) else found
            )
            caused = moved and position > since
            after = Served(
                forecast=_stream_forecast(forecast, position, self._tick),
                event_id=position if caused else self._head,
                cause="records" if caused else "tick",
            )
            before = self._served.get(scenario_id)
            if before is not None and before.key == after.key:
                continue
            self._served[scenario_id] = after
            changes.append(Change(before, after, since))
        changes.sort(key=lambda c: (c.after.event_id, c.after.forecast.scenario_id))
        return changes

    # --- a new subscriber's first chunk -----------------------------------------

    def _first_chunk(self, subscriber: Subscriber) -> bytes:
        after = subscriber.after
        if after is None:
            return self._snapshot(subscriber, "start")
        if after > self._head:
            return self._snapshot(subscriber, "ahead")
        if self._head - after > self.horizon:
            return self._snapshot(subscriber, "horizon")
        plans = [
            (scenario, _cuts(self._index.matches, scenario, after))
            for scenario in self._index.matches.scenarios.values()
            if subscriber.watches(scenario.id)
        ]
        if sum(len(cuts) for _, cuts in plans) > self.max_replay_cuts:
            return self._snapshot(subscriber, "horizon")
        replayed: list[Served] = []
        for scenario, cuts in plans:
            replayed.extend(self._replay(scenario, cuts))
        replayed.sort(key=lambda s: (s.event_id, s.forecast.scenario_id))
        return sse_run(replayed)

    def _snapshot(
        self, subscriber: Subscriber, reason: Literal["start", "horizon", "ahead"]
    ) -> bytes:
        current = [
            Served(forecast=s.forecast, event_id=self._head, cause=s.cause)
            for scenario_id, s in sorted(self._served.items())
            if subscriber.watches(scenario_id)
        ]
        return _reset(self._head, reason, with_id=not current) + sse_run(current)

    def _replay(self, scenario: ScenarioMatches, cuts: list[float]) -> list[Served]:
        """The changes of one scenario's served numbers at these knowledge cuts (see
        ``_cuts``), each compared with the one before. The numbers are the model's, as
        ``Forecaster.evaluate`` computes them, without its contributions (a replay
        evaluates a scenario once per commit that moved it)."""
        if not cuts:
            return []
        deps = sorted((r, p) for p, r in _dependencies(self._index.matches, scenario))
        at = bisect.bisect_left(deps, (cuts[0], -1))
        newest = max((p for _, p in deps[:at]), default=0)
        previous = self._numbers(scenario, math.nextafter(cuts[0], -math.inf), newest)
        out: list[Served] = []
        for cut in cuts:
            while at < len(deps) and deps[at][0] <= cut:
                newest = max(newest, deps[at][1])
                at += 1
            current = self._numbers(scenario, cut, newest)
            if current is None or current.forecast.position > self._head:
                continue
            if previous is None or previous.key != current.key:
                out.append(current)
            previous = current
        return out

    def _numbers(self, scenario: ScenarioMatches, known: float, position: int) -> Served | None:
        """Probability, intervals and status at the current tick, known at ``known``."""
        version = scenario.version_known_at(known)
        if version is None:
            return None
        t = np.array([self._tick])
        arrays = version.arrays(self._index.matches.retracted)
        point = forecast_points(version.model, arrays, t, known, scenario.resolution).point(0)
        forecast = StreamForecast(
            scenario_id=scenario.id,
            probability=point.probability,
            interval80=point.interval80,
            interval95=point.interval95,
            status=point.status,
            position=position,
            as_of=datetime.fromtimestamp(self._tick, UTC),
        )
        return Served(forecast, position, "records")


def _cuts(matches: MatchIndex, scenario: ScenarioMatches, after: int) -> list[float]:
    """The knowledge cuts at which a scenario's numbers may have changed after position
    ``after``: the ``recorded_at`` of each commit that holds a record it depends on."""
    return sorted({r for p, r in _dependencies(matches, scenario) if p > after})


def _dependencies(matches: MatchIndex, scenario: ScenarioMatches) -> Iterable[tuple[int, float]]:
    """(position, recorded_at) of every record the scenario's numbers depend on."""
    retractions = matches.retraction_positions
    for version in scenario.versions:
        yield version.position, version.recorded
        for rule_matches in version.found:
            for m in rule_matches:
                yield m.position, m.recorded
                retraction = retractions.get(m.event_id)
                if retraction is not None:
                    yield retraction[1], retraction[0]
    if scenario.resolution is not None:
        yield scenario.resolution_position, scenario.resolution.recorded_at


def _stream_forecast(forecast: Forecast, position: int, as_of: float) -> StreamForecast:
    return StreamForecast(
        scenario_id=forecast.scenario_id,
        probability=forecast.probability,
        interval80=forecast.interval80,
        interval95=forecast.interval95,
        status=forecast.status,
        position=position,
        as_of=datetime.fromtimestamp(as_of, UTC),
    )


async def events(
    stream: ForecastStream, subscriber: Subscriber, heartbeat_s: float, max_s: float
) -> AsyncIterator[bytes]:
    """The subscriber's chunks, with a heartbeat comment whenever it has been idle."""
    deadline = time.monotonic() + max_s
    try:
        yield b"retry: 1000\n\n"
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                chunk = await asyncio.wait_for(subscriber.queue.get(), min(heartbeat_s, left))
            except TimeoutError:
                if time.monotonic() >= deadline:
                    return
                yield HEARTBEAT
                continue
            if chunk is CLOSE:
                return
            yield chunk
    finally:
        stream.unsubscribe(subscriber)


def end_streams_on_signals(stream: ForecastStream) -> None:
    """On SIGTERM or SIGINT, end the open streams before uvicorn's own handler runs.

    uvicorn lets requests in progress finish (for up to the drain timeout) before
    the lifespan's shutdown; an event stream never finishes by itself, so without
    this every shutdown with a subscriber waited the whole timeout. Only in the
    main thread (where uvicorn installs its handlers: ``tradewinds serve``), after
    it did so; uvicorn puts back the handlers it found when it exits.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(signum)
        if not callable(previous):
            continue

        def handler(
            received: int,
            frame: FrameType | None,
            previous: Callable[[int, FrameType | None], object] = previous,
        ) -> None:
            stream.end_all()
            previous(received, frame)

        signal.signal(signum, handler)
