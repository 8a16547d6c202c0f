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

A new subscriber's first chunk is ``streamreplay``'s; the encoding, ``sse``'s.
"""

import logging
import math
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType

from service.persistence.eventlog import EventLog
from service.queries.forecasting import Forecaster
from service.queries.snapshots import NowSnapshot, Query
from service.queries.sse import Change, Served, sse_run, stream_forecast
from service.queries.streamreplay import Replay
from service.queries.subscribers import Subscriber, Subscribers
from service.queries.views import Forecast
from service.workers.registry import Backoff

logger = logging.getLogger("service.stream")


ChangeListener = Callable[[list[Change]], None]
Found = tuple[Forecast, int] | NowSnapshot
"""A scenario's "now" answer (forecast, position), or the snapshot to evaluate it from."""


class ForecastStream:
    """The shared notifier (one thread) and its subscribers."""

    def __init__(self, eventlog: EventLog, forecaster: Forecaster) -> None:
        self.eventlog = eventlog
        self._index = eventlog.index
        self._forecaster = forecaster
        settings = eventlog.settings
        self.horizon = settings.stream_horizon_positions
        self.max_replay_cuts = settings.stream_replay_max_cuts
        self.min_interval = settings.stream_min_interval_s
        self._evaluated_at = -math.inf
        self._stepping_since: float | None = None
        self._patience = settings.heavy_read_budget_s
        self._listeners: list[ChangeListener] = []
        self._served: dict[str, Served] = {}
        self._generations: dict[str, int] = {}
        self._head = 0
        self._tick = 0.0
        self._stopping = threading.Event()
        self.subscribers = Subscribers(settings.stream_max_queued, self._stopping)
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
        self.subscribers.end_all(forget=True)

    def end_all(self) -> None:
        """End every open stream now (its client resumes elsewhere or later)."""
        self.subscribers.end_all()

    def on_change(self, listener: ChangeListener) -> None:
        """Call ``listener`` (in the notifier thread) with every batch of changes."""
        self._listeners.append(listener)

    @property
    def subscriber_count(self) -> int:
        return self.subscribers.count

    def subscribe(self, scenarios: frozenset[str] | None, after: int | None) -> Subscriber:
        """Register a subscriber (from the event loop); its first chunk (a replay, or a
        reset and the current state) is queued by the notifier."""
        subscriber = self.subscribers.add(scenarios, after)
        if not subscriber.closed:
            self._wake()
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self.subscribers.remove(subscriber)

    def _wake(self) -> None:
        self._index.wake()

    # --- the notifier thread ----------------------------------------------------

    def _run(self) -> None:
        """Until stopped: a step that fails is logged and tried again after a backoff
        delay (the thread outlives it; a listener's own failures are its own)."""
        while not self.eventlog.caught_up():
            if self._stopping.wait(0.05) or self.eventlog.projection_failed:
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
                self._index.position != self._head
                or self.subscribers.waiting
                or self._stopping.is_set()
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
            subscribers = self.subscribers.live()
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
        pending = self.subscribers.take_new()
        if not pending:
            return
        with self._index.reading():
            replay = Replay(self._index.matches, self._head, self._tick, self._served)
            first = [
                (s, replay.first_chunk(s, self.horizon, self.max_replay_cuts))
                for s in pending
                if not s.closed
            ]
        self.subscribers.admit(first)

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
        fitted = self._forecaster.calibrations.at(query.as_of, query.known) if work else None
        for scenario_id, moved, found in work:
            forecast, position = (
                self._forecaster.finish(found, query) if isinstance(found, NowSnapshot) else found
            )
            if fitted is not None:
                forecast = fitted.applied(forecast)
            caused = moved and position > since
            after = Served(
                forecast=stream_forecast(forecast, position, self._tick),
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
