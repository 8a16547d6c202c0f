"""The application: what the HTTP handlers (and the command line) ask of the
service, as eventsourcing's ``BankAccounts.get_balance``. Reads wait (bounded)
for this replica's own writes; writes are the commands of ``service.commands``.
``service.bootstrap`` builds it; its parts are long-lived and started together."""

import contextlib
from collections.abc import Callable, Iterator, Sequence
from copy import copy
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

import msgspec
from anyio import to_thread

from domain.alerts import AlertDefinition
from domain.backtests import BacktestRequest, check_work
from domain.entries import LogEntry
from domain.errors import FieldError, InvalidInput, NotFound
from domain.events import BaseEvent, EventKind
from domain.scenarios import Resolution, ScenarioDefinition, check_definition
from service.commands import alerts as alert_commands
from service.commands import backtests as backtest_commands
from service.commands import events as event_commands
from service.commands import scenarios as scenario_commands
from service.commands.events import AppendReceipt, Receipt
from service.commands.exchange import export_entries
from service.commands.scenarios import ResolutionReceipt, ScenarioReceipt
from service.persistence.eventlog import EventLog
from service.projection.alertindex import AlertState, DeliveryState
from service.projection.states import BacktestState, ScenarioState
from service.queries import reading
from service.queries.bodies import encoder
from service.queries.budget import Budget
from service.queries.calibrationviews import CalibrationView, SuggestedRules
from service.queries.forecasting import Forecaster
from service.queries.history import HistoryRange
from service.queries.preview import EventCards, draft_snapshot, preview
from service.queries.prior_events import before_opens
from service.queries.snapshots import INF, Query
from service.queries.stream import ForecastStream
from service.settings import Settings
from service.workers.backtestinputs import estimate
from service.workers.backtests import BacktestRunner
from service.workers.registry import Workers

if TYPE_CHECKING:
    from service.bootstrap import Background

T = TypeVar("T")
_encoder = msgspec.json.Encoder()


class Tradewinds:
    """The event log and the parts that live as long as it: the forecaster and, in a
    server, the background workers (backtest runner, forecast stream, alerter and
    webhook sender). ``start()`` starts them, ``stop()`` stops them, workers first."""

    def __init__(
        self, eventlog: EventLog, forecaster: Forecaster, background: "Background | None"
    ) -> None:
        self.eventlog = eventlog
        self.settings: Settings = eventlog.settings
        self.workers: Workers = eventlog.workers
        self.forecaster = forecaster
        self.background = background
        self._index = eventlog.index
        self._cards = EventCards(self._index.table)

    @property
    def backtests(self) -> BacktestRunner:
        return self._background().backtests

    @property
    def stream(self) -> ForecastStream:
        return self._background().stream

    def _background(self) -> "Background":
        if self.background is None:
            msg = "built without the background workers (bootstrap(background=False))"
            raise RuntimeError(msg)
        return self.background

    # --- life cycle -------------------------------------------------------------

    def start(self) -> None:
        self.eventlog.start()
        if self.background is not None:
            self.background.start(self.workers)

    def stop(self) -> None:
        """Stop the workers, then commit what was submitted and close the store."""
        self.workers.stopping()
        if self.background is not None:
            self.background.stop()
        self.eventlog.close()

    def __enter__(self) -> "Tradewinds":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the state of this replica ----------------------------------------------

    @property
    def position(self) -> int:
        """The last log position the index has applied."""
        return self._index.position

    @property
    def head_at_start(self) -> int:
        return self.eventlog.head_at_start

    @property
    def last_position(self) -> int:
        """The last position this replica's writer acknowledged."""
        return self.eventlog.committer.last_position

    def dead_workers(self) -> list[str]:
        return self.workers.dead()

    def not_ready_because(self) -> tuple[str, str] | None:
        return self.eventlog.not_ready_because()

    def store_head(self) -> int | None:
        """The store's head, or None while the store does not answer (not asked then)."""
        eventlog = self.eventlog
        if eventlog.committer.problem is not None or eventlog.projection_problem is not None:
            return None
        with contextlib.suppress(Exception):  # a scrape must answer while the store is down
            return eventlog.head()
        return None

    # --- reading with read-your-writes ------------------------------------------

    async def await_own_writes(self) -> None:
        """Wait (bounded) until the index shows this replica's acknowledged writes
        (not for a caller with a read-only key)."""
        await reading.own_writes_visible(self.eventlog)

    async def await_position(self, position: int | None) -> None:
        """Own writes visible, and ``position`` applied (``ProjectionBehind`` if not in time)."""
        await reading.position_applied(self.eventlog, position)

    async def position_reached(self, position: int) -> bool:
        """Wait (bounded) until the index has applied ``position``; whether it has."""
        return await reading.position_reached(self.eventlog, position)

    async def _record(self, lookup: Callable[[], T | None], missing: str) -> T:
        return await reading.await_record(self.eventlog, lookup, missing)

    # --- events and scenarios ---------------------------------------------------

    async def append_events(
        self, events: Sequence[BaseEvent], key: str | None, *, batch: bool
    ) -> tuple[list[AppendReceipt], bool]:
        """Store the events in one transaction: their receipts, and whether anything
        new was stored (False: the request had been made before)."""
        return await event_commands.append_events(self.eventlog, events, key, batch=batch)

    async def possible_duplicates(self, event: BaseEvent) -> list[UUID]:
        """The events a draft would name as its possible duplicates were it appended
        now, storing nothing: the append's rule (``domain.duplicates``, through the
        duplicates index) over the log as this replica has it, own writes included,
        leaving out retracted events; refused as an append would be."""
        event_commands.check_not_future([event], self.eventlog.committer.now(), batch=False)
        await self.await_own_writes()
        duplicates = self._index.table.duplicates
        before = self._index.position + 1
        return await to_thread.run_sync(lambda: duplicates.look_alikes(event, before, now=True))

    async def retract_event(self, event_id: UUID, reason: str) -> Receipt:
        return await event_commands.retract_event(self.eventlog, event_id, reason)

    async def define_scenario(
        self, slug: str, definition: ScenarioDefinition
    ) -> tuple[ScenarioReceipt, bool]:
        """Record a new version unless it equals the current one: the receipt, and
        whether this was the scenario's first version."""
        return await scenario_commands.define_scenario(self.eventlog, slug, definition)

    async def resolve_scenario(self, slug: str, resolution: Resolution) -> ResolutionReceipt:
        return await scenario_commands.resolve_scenario(self.eventlog, slug, resolution)

    async def retract_resolution(self, slug: str, reason: str) -> ResolutionReceipt:
        return await scenario_commands.retract_resolution(self.eventlog, slug, reason)

    async def preview_scenario(
        self,
        slug: str,
        definition: ScenarioDefinition,
        as_of: float | None,
        window: tuple[float | None, float | None, float],
    ) -> bytes:
        """The draft's answer (``queries.preview``), encoded, storing nothing: checked
        as a PUT checks it (unless it equals the stored version, which a PUT leaves
        alone), computed as a heavy read. ``window``: the history's from, to (default
        ``as_of``) and step in seconds."""
        await self.await_own_writes()
        state = self._index.scenarios.get(slug)
        if state is None or state.current.definition != definition:
            check_definition(definition, None if state is None else state.first_recorded_at)
        forecaster = self.forecaster
        now = forecaster.clock()
        query = Query(as_of=forecaster.now() if as_of is None else as_of)
        start, stop, step = window
        asked = HistoryRange(
            start,
            query.as_of if stop is None else stop,
            step,
            query.known,
            self.settings.history_max_points,
        )

        def work(budget: Budget) -> bytes:
            snapshot = draft_snapshot(self._index, slug, definition, now)
            forecaster.check_matches(snapshot.matches, "the draft's rules match")
            budget.check()
            cost = self.settings.history_max_cost
            return encoder.encode(preview(snapshot, query, asked, self._cards, cost, budget))

        return await forecaster.heavy(work)

    async def events(
        self,
        after: int,
        limit: int,
        kind: EventKind | None,
        occurred_from: datetime | None,
        occurred_to: datetime | None,
    ) -> tuple[list[Any], int | None]:
        await self.await_own_writes()
        return self._index.list_events(after, limit, kind, occurred_from, occurred_to)

    async def event(self, event_id: UUID) -> Any:
        return await self._record(
            lambda: self._index.table.get_shown(event_id), f"no event {event_id}"
        )

    async def scenarios(self) -> list[ScenarioState]:
        await self.await_own_writes()
        return self._index.scenario_list()

    def log_entries(self, after: int, page: int) -> Iterator[LogEntry]:
        """The log's records after ``after`` as export lines, without secrets
        (blocking: reads the store in pages of ``page``)."""
        return export_entries(self.eventlog, page=page, after=after)

    def before_opens(self, versions: dict[str, int]) -> dict[str, int]:
        """Per scenario (and its version shown), the matching events before its opens_at."""
        return before_opens(self._index, versions)

    async def scenario(self, slug: str) -> ScenarioState:
        return await self._record(lambda: self._index.scenarios.get(slug), f"no scenario {slug}")

    # --- calibration ----------------------------------------------------------------

    async def calibration(self, as_of: float | None, known: float) -> CalibrationView:
        """The calibration in force at ``as_of`` (default: now, the served tick)
        under the cut ``known``, fitted in a heavy-read worker if not cached."""
        await self.await_own_writes()
        forecaster = self.forecaster
        at = forecaster.now() if as_of is None else as_of

        def work(budget: Budget) -> CalibrationView:
            return forecaster.calibrations.at(at, known, budget).view()

        return await forecaster.heavy(work)

    async def suggested_rules(self, slug: str, as_of: float | None, known: float) -> SuggestedRules:
        """Each rule of the scenario's version in force at ``known`` with its Bayes
        factor and the suggested one (``Fitted.suggested``); NotFound if there is
        none."""
        await self.await_own_writes()
        forecaster = self.forecaster
        at = forecaster.now() if as_of is None else as_of

        def work(budget: Budget) -> SuggestedRules | None:
            scenario = self._index.matches.scenarios.get(slug)
            with self._index.reading():
                version = None if scenario is None else scenario.version_known_at(known)
            if version is None:
                return None
            fitted = forecaster.calibrations.at(at, known, budget)
            return SuggestedRules(
                scenario_id=slug,
                calibration=fitted.view(),
                rules=fitted.suggested(version.definition),
            )

        found = await forecaster.heavy(work)
        if found is None:
            raise NotFound(f"no scenario {slug}" + ("" if known == INF else " known at that time"))
        return found

    # --- alerts -----------------------------------------------------------------

    async def alerts(self) -> list[AlertState]:
        """The alerts not deleted, by id (copies: the projection changes its own)."""
        await self.await_own_writes()
        with self._index.reading():
            return [copy(a) for a in sorted(self._index.alerts.active(), key=lambda a: a.id)]

    async def alert(self, slug: str) -> AlertState:
        def lookup() -> AlertState | None:
            state = self._index.alerts.alerts.get(slug)
            return None if state is None or state.deleted else state

        return await self._record(lookup, f"no alert {slug}")

    async def deliveries(self, slug: str, limit: int) -> list[DeliveryState]:
        """An alert's last ``limit`` deliveries, newest first (also once it is deleted);
        copies, taken together: the projection changes its own."""
        await self._record(lambda: self._index.alerts.alerts.get(slug), f"no alert {slug}")
        with self._index.reading():
            ids = self._index.alerts.by_alert.get(slug, [])
            return [copy(self._index.alerts.deliveries[i]) for i in reversed(ids[-limit:])]

    async def define_alert(self, slug: str, definition: AlertDefinition) -> bool:
        """Define or change an alert; True when it is new."""
        return await alert_commands.define_alert(self.eventlog, slug, definition)

    async def delete_alert(self, slug: str) -> None:
        await self.await_own_writes()
        await alert_commands.delete_alert(self.eventlog, slug)

    def delivery_counts(self) -> dict[str, int]:
        """Deliveries not finished yet, by status."""
        counts = {"pending": 0, "attempted": 0}
        with self._index.reading():
            for delivery_id in self._index.alerts.unfinished:
                delivery = self._index.alerts.deliveries[delivery_id]
                if delivery.status in counts:
                    counts[delivery.status] += 1
        return counts

    # --- backtests --------------------------------------------------------------

    async def request_backtest(self, request: BacktestRequest) -> BacktestState:
        """Check a (valid) request against the scenarios and the work cap, record it
        and hand it to this replica's runner: known (queued) from now on."""
        await self.await_own_writes()
        self._check_scenarios(request)
        await to_thread.run_sync(self._check_work, request)
        state = await backtest_commands.request_backtest(self.eventlog, request)
        self.backtests.accept(state)
        return state

    def _check_scenarios(self, request: BacktestRequest) -> None:
        known = self._index.matches.scenarios
        errors = [
            FieldError(f"scenario_ids[{i}]", f"no scenario {s!r}")
            for i, s in enumerate(request.scenario_ids or [])
            if s not in known
        ]
        errors += [
            FieldError(f"rules.{s}", f"no scenario {s!r}")
            for s in request.rules or {}
            if s not in known
        ]
        if errors:
            raise InvalidInput(errors)

    def _check_work(self, request: BacktestRequest) -> None:
        found = estimate(self._index, request)
        check_work(found.work, found.scenarios, found.samples, self.settings.backtest_max_work)

    async def backtest(self, backtest_id: UUID) -> BacktestState:
        """As the index tells it; one accepted here but not applied yet is known to the
        runner (queued), so its id never answers 404 after its 202."""
        return await self._record(
            lambda: self.backtests.state(backtest_id), f"no backtest {backtest_id}"
        )

    async def recent_backtests(self, limit: int) -> list[BacktestState]:
        """The last ``limit`` backtests, newest first, with those accepted here."""
        await self.await_own_writes()
        with self._index.reading():
            indexed = dict(self._index.backtests)
        accepted = {k: v for k, v in dict(self.backtests.accepted).items() if k not in indexed}
        states = sorted([*indexed.values(), *accepted.values()], key=lambda s: -s.position)
        return states[:limit]

    def backtest_progress(self, backtest_id: UUID) -> float | None:
        """The progress of a backtest running in this process, else None."""
        return self.backtests.running.get(backtest_id)

    def backtest_counts(self) -> dict[str, int]:
        """Backtests waiting or running (running: in this process)."""
        live = set(self.backtests.running)
        counts = {"queued": 0, "running": 0}
        with self._index.reading():
            for backtest in self._index.backtests.values():
                if backtest.status in counts:
                    counts["running" if backtest.id in live else backtest.status] += 1
        return counts
