"""Alert firing: the forecast stream's notifier hands every batch of changes to
``Alerter.on_changes`` (in its thread). For each active alert that watches the
scenario and whose condition fires, a ``DeliveryRecord`` is appended with the
exact body to send (a ``WebhookBody``). Its id is derived from the alert (and
version), the scenario and the change (the position that moved it, or the tick), so
replicas that see the same change record one delivery between them (the second
append collides). ``service.workers.delivery`` sends them.
"""

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from typing import Literal
from uuid import UUID

import msgspec
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Recording

from domain.alerts import Condition, fires
from domain.records import DeliveryRecord, delivery_record_id
from domain.scenarios import Outcome
from service.persistence.errors import as_store_error
from service.persistence.eventlog import EventLog
from service.projection.alertindex import AlertState
from service.queries.forecasting import Forecaster
from service.queries.snapshots import Query
from service.queries.sse import Change, StreamForecast
from service.wire import Wire
from service.workers.registry import Backoff

logger = logging.getLogger("service.alerts")
DeliveryBuild = Callable[[datetime], list[Aggregate]]
_encoder = msgspec.json.Encoder()


# --- what a webhook receives ---------------------------------------------------------


class WebhookAlert(Wire):
    id: str
    version: int
    condition: Condition


class WebhookScenario(Wire):
    id: str
    title: str


class WebhookEvent(Wire):
    event_id: UUID
    kind: str
    summary: str
    occurred_at: datetime
    position: int


class WebhookCorrection(Wire, omit_defaults=True):
    """A record other than a world event that moved the forecast: a retraction of a
    matched event (``event_id``, ``reason``), a resolution (``outcome``,
    ``resolved_at``, ``note``) or a retraction of one (``reason``, and the retracted
    ``outcome``)."""

    type: Literal["event_retraction", "resolution", "resolution_retraction"]
    position: int
    event_id: UUID | None = None
    outcome: Outcome | None = None
    resolved_at: datetime | None = None
    note: str | None = None
    reason: str | None = None


class WebhookBody(Wire):
    """The JSON body POSTed to an alert's URL."""

    delivery_id: UUID
    alert: WebhookAlert
    scenario: WebhookScenario
    before: StreamForecast | None
    after: StreamForecast
    cause: Literal["records", "tick"]
    events: list[WebhookEvent]
    corrections: list[WebhookCorrection]
    fired_at: datetime


# --- firing --------------------------------------------------------------------------


class Alerter:
    """Evaluates alert conditions on forecast changes (``ForecastStream.on_change``).

    A delivery that cannot be recorded because the store is down is kept and
    submitted again after a backoff delay until it is recorded (or another replica
    recorded it: the append collides), so an outage loses no alert. At most
    ``MAX_UNRECORDED`` wait; beyond that the newest are dropped, logged."""

    MAX_UNRECORDED = 10_000

    def __init__(self, eventlog: EventLog, forecaster: Forecaster) -> None:
        self._eventlog = eventlog
        self._index = eventlog.index
        self._forecaster = forecaster
        self._lock = threading.Lock()
        self._unrecorded: list[DeliveryBuild] = []
        self._retry: threading.Timer | None = None
        self._backoff = Backoff(0.5, 10.0)
        self._stopped = False

    def stop(self) -> None:
        """Stop retrying unrecorded deliveries (they are lost with the process; the
        change that fired them is seen again by no one: logged)."""
        with self._lock:
            self._stopped = True
            if self._retry is not None:
                self._retry.cancel()
            if self._unrecorded:
                logger.error("%d alert deliveries were never recorded", len(self._unrecorded))

    def on_changes(self, changes: list[Change]) -> None:
        with self._index.reading():
            alerts = self._index.alerts.active()
            if not alerts:
                return
            fired = [
                self._delivery(alert, change)
                for change in changes
                for alert in alerts
                if alert.watches(change.after.forecast.scenario_id) and self._fires(alert, change)
            ]
        for build in fired:
            self._record(build)

    def _record(self, build: "DeliveryBuild") -> None:
        future = self._eventlog.committer.submit(build)
        future.add_done_callback(lambda f: self._recorded(f, build))

    def _recorded(self, future: "Future[list[Recording[UUID]]]", build: "DeliveryBuild") -> None:
        """(In the writer thread.) Keep a delivery the store could not take, to retry."""
        exception = future.exception()
        if exception is None:
            self._backoff.reset()
            return
        if isinstance(exception, IntegrityError):
            return  # another replica recorded this delivery first
        if as_store_error(exception) is None:
            logger.error("an alert delivery could not be recorded: %s", exception)
            return
        with self._lock:
            if self._stopped:
                return
            if len(self._unrecorded) >= self.MAX_UNRECORDED:
                logger.error("an alert delivery was dropped: too many wait for the store")
                return
            if not self._unrecorded and self._retry is None:
                logger.warning("alert deliveries wait for the store: %s", exception)
            self._unrecorded.append(build)
            if self._retry is None:
                self._retry = threading.Timer(self._backoff.next(), self._record_again)
                self._retry.name = "tradewinds-alert-retry"
                self._retry.daemon = True
                self._retry.start()

    def _record_again(self) -> None:
        with self._lock:
            builds, self._unrecorded = self._unrecorded, []
            self._retry = None
            if self._stopped:
                return
        for build in builds:
            self._record(build)

    def _fires(self, alert: AlertState, change: Change) -> bool:
        condition = alert.definition.condition
        before = None if change.before is None else change.before.forecast.probability
        after = change.after.forecast.probability
        reference = None
        if condition.within is not None:
            reference = self._probability_ago(change, condition.within)
        return fires(condition, before, after, reference)

    def _probability_ago(self, change: Change, within: timedelta) -> float | None:
        """The probability served ``within`` before this change's time, as known then."""
        scenario = self._index.matches.scenarios.get(change.after.forecast.scenario_id)
        if scenario is None:
            return None
        then = change.after.forecast.as_of.timestamp() - within.total_seconds()
        found = self._forecaster.evaluate(scenario, Query(as_of=then, known=then), detail=False)
        return None if found is None else found[0].probability

    def _delivery(self, alert: AlertState, change: Change) -> "DeliveryBuild":
        after = change.after
        scenario_id = after.forecast.scenario_id
        key = f"p{after.event_id}" if after.cause == "records" else f"t{after.forecast.as_of}"
        delivery_id = delivery_record_id(alert.id, alert.version, scenario_id, key)
        scenario = self._index.matches.scenarios[scenario_id]
        records = after.cause == "records"
        events = self._events(scenario_id, change) if records else []
        corrections = self._corrections(scenario_id, change) if records else []
        partial = WebhookBody(
            delivery_id=delivery_id,
            alert=WebhookAlert(
                id=alert.id, version=alert.version, condition=alert.definition.condition
            ),
            scenario=WebhookScenario(id=scenario_id, title=scenario.current.definition.title),
            before=None if change.before is None else change.before.forecast,
            after=after.forecast,
            cause=after.cause,
            events=events,
            corrections=corrections,
            fired_at=datetime.fromtimestamp(0, UTC),
        )

        def build(recorded_at: datetime) -> list[Aggregate]:
            body = _encoder.encode(msgspec.structs.replace(partial, fired_at=recorded_at))
            return [
                DeliveryRecord.fire(delivery_id, alert.id, scenario_id, body.decode(), recorded_at)
            ]

        return build

    def _events(self, scenario_id: str, change: Change) -> list[WebhookEvent]:
        """The world events matched by the scenario's rules among the records that
        moved it (positions after the previous change, up to this one)."""
        scenario = self._index.matches.scenarios[scenario_id]
        low, high = change.since, change.after.forecast.position
        found: list[WebhookEvent] = []
        seen: set[UUID] = set()
        for rule_matches in scenario.current.matches:
            for match in rule_matches:
                if low < match.position <= high and match.event_id not in seen:
                    seen.add(match.event_id)
                    event = self._index.table.get(match.event_id)
                    found.append(
                        WebhookEvent(
                            event_id=match.event_id,
                            kind=event.__struct_config__.tag,
                            summary=event.summary,
                            occurred_at=event.occurred_at,
                            position=match.position,
                        )
                    )
        found.sort(key=lambda e: e.position)
        return found

    def _corrections(self, scenario_id: str, change: Change) -> list[WebhookCorrection]:
        """The records other than world events that moved the scenario (positions after
        the previous change, up to this one): retractions of the events its versions
        matched, its resolutions and retractions of them, in log order."""
        low, high = change.since, change.after.forecast.position
        found = [c for c in self._resolution_corrections(scenario_id) if low < c.position <= high]
        retractions = self._index.matches.retraction_positions
        seen: set[UUID] = set()
        for version in self._index.matches.scenarios[scenario_id].versions:
            for rule_matches in version.found:
                for match in rule_matches:
                    retraction = retractions.get(match.event_id)
                    if retraction is None or match.event_id in seen:
                        continue
                    seen.add(match.event_id)
                    if low < retraction[1] <= high:
                        info = self._index.table.get(match.event_id).retracted
                        found.append(
                            WebhookCorrection(
                                type="event_retraction",
                                position=retraction[1],
                                event_id=match.event_id,
                                reason=info.reason,
                            )
                        )
        found.sort(key=lambda c: c.position)
        return found

    def _resolution_corrections(self, scenario_id: str) -> list[WebhookCorrection]:
        found: list[WebhookCorrection] = []
        for state in self._index.scenarios[scenario_id].resolutions:
            resolution = state.resolution
            found.append(
                WebhookCorrection(
                    type="resolution",
                    position=state.position,
                    outcome=resolution.outcome,
                    resolved_at=resolution.resolved_at,
                    note=resolution.note,
                )
            )
            if state.retraction is not None:
                found.append(
                    WebhookCorrection(
                        type="resolution_retraction",
                        position=state.retraction.position,
                        outcome=resolution.outcome,
                        reason=state.retraction.reason,
                    )
                )
        return found
