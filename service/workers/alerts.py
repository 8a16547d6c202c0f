"""Alerts: firing on forecast changes, and delivering webhooks at least once.

Firing: the forecast stream's notifier hands every batch of changes to
``Alerter.on_changes`` (in its thread). For each active alert that watches the
scenario and whose condition fires, a ``DeliveryRecord`` is appended with the
exact body to send. Its id is derived from the alert (and version), the
scenario and the change (the position that moved it, or the tick), so replicas
that see the same change record one delivery between them (the second append
collides).

Delivering: one ``DeliveryWorker`` thread per process sends every delivery that
is due, oldest first: it claims the delivery in the log (owner and lease), POSTs
the stored body signed with the alert's secret, and records the outcome: a 2xx
succeeds; anything else (another status, a timeout, a refused or unreachable
target) is an attempt, retried after ``webhook_retry_base_s * 2**(n-1)`` (at
most ``webhook_retry_max_s``) until ``webhook_max_attempts``, then the delivery
fails. Pending deliveries are records in the log, so a restart (or another
replica, once the lease expired) picks them up: at least once.
"""

import asyncio
import logging
import os
import socket
import threading
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from typing import Literal
from uuid import UUID, uuid4

import httpx
import msgspec
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Recording

from domain.alerts import AlertDefinition, Condition, check_condition, fires
from domain.errors import Conflict, FieldError, InvalidInput, NotFound
from domain.records import (
    AlertRecord,
    DeliveryRecord,
    LeaseHeld,
    alert_record_id,
    delivery_record_id,
)
from service.commands.writes import commit
from service.persistence.errors import as_store_error
from service.persistence.eventlog import EventLog
from service.projection.alertindex import AlertState
from service.queries.forecasting import Forecaster, Query
from service.queries.stream import Change, StreamForecast
from service.workers.registry import Backoff
from service.workers.webhooks import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    RefusedTarget,
    check_target,
    post_to_target,
    resolve_target,
    signature,
)

logger = logging.getLogger("service.alerts")
DeliveryBuild = Callable[[datetime], list[Aggregate]]
_encoder = msgspec.json.Encoder()
_definition_decoder = msgspec.json.Decoder(AlertDefinition)
_ATTEMPTS = 5


# --- what a webhook receives ---------------------------------------------------------


class WebhookAlert(msgspec.Struct, kw_only=True):
    id: str
    version: int
    condition: Condition


class WebhookScenario(msgspec.Struct, kw_only=True):
    id: str
    title: str


class WebhookEvent(msgspec.Struct, kw_only=True):
    event_id: UUID
    kind: str
    summary: str
    occurred_at: datetime
    position: int


class WebhookBody(msgspec.Struct, kw_only=True):
    """The JSON body POSTed to an alert's URL."""

    delivery_id: UUID
    alert: WebhookAlert
    scenario: WebhookScenario
    before: StreamForecast | None
    after: StreamForecast
    cause: Literal["records", "tick"]
    events: list[WebhookEvent]
    fired_at: datetime


# --- defining ------------------------------------------------------------------------


async def check_definition(definition: AlertDefinition, allow_private: bool) -> None:
    check_condition(definition.condition)
    try:
        await asyncio.to_thread(check_target, definition.url, allow_private=allow_private)
    except RefusedTarget as e:
        raise InvalidInput([FieldError("url", str(e))]) from None


async def define_alert(log: EventLog, slug: str, definition: AlertDefinition) -> bool:
    """Record the definition unless it equals the current one; True if the alert is new
    (or was deleted)."""
    await check_definition(definition, log.settings.webhook_allow_private)
    body = _encoder.encode(definition).decode()
    for _ in range(_ATTEMPTS):
        record = await asyncio.to_thread(log.get, alert_record_id(slug))
        if record is not None and not record.deleted and record.body == body:
            return False
        new = record is None or record.deleted

        def build(recorded_at: datetime, record: AlertRecord | None = record) -> list[Aggregate]:
            if record is None:
                return [AlertRecord.define(slug, body, recorded_at)]
            record.revise(body, recorded_at)
            return [record]

        try:
            await commit(log, build)
        except IntegrityError:
            continue
        return new
    msg = f"alert {slug} is being changed concurrently; try again"
    raise Conflict(msg)


async def delete_alert(log: EventLog, slug: str) -> None:
    for _ in range(_ATTEMPTS):
        record = await asyncio.to_thread(log.get, alert_record_id(slug))
        if record is None or record.deleted:
            msg = f"no alert {slug}"
            raise NotFound(msg)

        def build(recorded_at: datetime, record: AlertRecord = record) -> list[Aggregate]:
            record.delete(recorded_at)
            return [record]

        try:
            await commit(log, build)
        except IntegrityError:
            continue
        return
    msg = f"alert {slug} is being changed concurrently; try again"
    raise Conflict(msg)


# --- firing --------------------------------------------------------------------------


class Alerter:
    """Evaluates alert conditions on forecast changes (``ForecastStream.on_change``).

    A delivery that cannot be recorded because the store is down is kept and
    submitted again after a backoff delay until it is recorded (or another replica
    recorded it: the append collides), so an outage loses no alert. At most
    ``MAX_UNRECORDED`` wait; beyond that the newest are dropped, logged."""

    MAX_UNRECORDED = 10_000

    def __init__(self, event_log: EventLog, forecaster: Forecaster) -> None:
        self._log = event_log
        self._index = event_log.index
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
        future = self._log.committer.submit(build)
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
        events = self._events(scenario_id, change) if after.cause == "records" else []
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


# --- delivering ----------------------------------------------------------------------


class LostClaim(Exception):
    """The delivery moved on in the store (another sender claimed it)."""


class DeliveryWorker:
    """One thread per process that sends due deliveries (see the module docstring)."""

    def __init__(self, event_log: EventLog) -> None:
        self._log = event_log
        self._index = event_log.index
        settings = event_log.settings
        self._settings = settings
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid4().hex[:8]}"
        self.lease = timedelta(seconds=settings.webhook_lease_s)
        self._stopping = threading.Event()
        self._backoff = Backoff(0.5, 10.0)
        self._store_down = False
        self.thread = threading.Thread(target=self._work, name="tradewinds-webhooks", daemon=True)
        # No pooled connections: each attempt connects to the address it just checked,
        # with the TLS server name of its own URL.
        self._client = httpx.Client(
            timeout=settings.webhook_timeout_s,
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._index.wake()
        if self.thread.is_alive():
            self.thread.join(timeout=self._settings.webhook_timeout_s + 5)
        self._client.close()

    def _now(self) -> datetime:
        return self._log.committer.now()

    def _due(self) -> tuple[list[UUID], datetime | None]:
        """The deliveries due now (oldest first), and when the next one will be."""
        now = self._now()
        with self._index.reading():
            deliveries = self._index.alerts.deliveries
            open_ = [
                (due, d.position, d.id)
                for d in (deliveries[i] for i in self._index.alerts.unfinished)
                if (due := d.due_at()) is not None
            ]
        open_.sort()
        ready = [delivery_id for due, _, delivery_id in open_ if due <= now]
        later = [due for due, _, _ in open_ if due > now]
        return ready, min(later, default=None)

    def _work(self) -> None:
        while not self._log.caught_up():
            if self._stopping.wait(0.05) or self._log.projection_failed:
                return
        while not self._stopping.is_set():
            try:
                self._round()
            except Exception:
                logger.exception("a round of webhook deliveries failed; the sender carries on")
                self._stopping.wait(self._backoff.next())

    def _round(self) -> None:
        """Send what is due, or wait until something may be."""
        generation = self._index.alerts.generation
        ready, next_due = self._due()
        for delivery_id in ready:
            if self._stopping.is_set() or not self._attempt(delivery_id):
                return
        if ready:
            # see what was just recorded before looking again
            self._index.reached(self._log.committer.last_position, 1.0)
            return
        timeout = 1.0
        if next_due is not None:
            timeout = min(timeout, max(0.01, (next_due - self._now()).total_seconds()))
        self._wait(generation, timeout)

    def _attempt(self, delivery_id: UUID) -> bool:
        """Deliver one; False if the store is down (after waiting a backoff delay,
        and saying so once per outage, not per delivery)."""
        try:
            self._deliver(delivery_id)
        except Exception as e:
            if as_store_error(e) is None:
                logger.exception("delivery %s could not be recorded", delivery_id)
                return True
            if not self._store_down:
                logger.warning("webhook deliveries wait for the store: %s", e)
            self._store_down = True
            self._stopping.wait(self._backoff.next())
            return False
        if self._store_down:
            logger.warning("webhook deliveries go on: the store is back")
        self._store_down = False
        self._backoff.reset()
        return True

    def _wait(self, generation: int, timeout: float) -> None:
        """Until a delivery record is applied, the worker stops, or ``timeout``."""

        def moved() -> bool:
            return self._index.alerts.generation != generation or self._stopping.is_set()

        self._index.wait_until(moved, timeout)

    def _record(
        self, record: DeliveryRecord, change: Callable[[DeliveryRecord, datetime], None]
    ) -> None:
        try:
            self._log.committer.update(record, change)
        except IntegrityError:
            raise LostClaim(str(record.id)) from None

    def _deliver(self, delivery_id: UUID) -> None:
        record = self._log.get(delivery_id)
        if not isinstance(record, DeliveryRecord) or record.done:
            return
        with self._index.reading():
            alert = self._index.alerts.alerts.get(record.alert)
        try:
            if alert is None or alert.deleted:
                self._record(record, lambda r, at: r.give_up("the alert was deleted", at))
                return
            if record.next_at is not None and record.next_at > self._now():
                return  # the index had not applied the last attempt yet
            self._record(record, lambda r, at: r.claim(self.owner, self.lease, at))
        except (LeaseHeld, LostClaim):
            return
        status, error = self._send(alert.definition, record)
        try:
            if status is not None and 200 <= status < 300:
                self._record(record, lambda r, at: r.succeeded(status, at))
                logger.info("delivery %s sent (HTTP %d)", delivery_id, status)
                return
            attempt = record.attempts + 1
            if attempt >= self._settings.webhook_max_attempts:
                self._record(record, lambda r, at: r.give_up(error, at))
                logger.warning(
                    "delivery %s failed after %d attempts: %s", delivery_id, attempt, error
                )
                return
            delay = min(
                self._settings.webhook_retry_base_s * 2 ** (attempt - 1),
                self._settings.webhook_retry_max_s,
            )
            self._record(
                record,
                lambda r, at: r.attempted(status, error, at + timedelta(seconds=delay), at),
            )
            logger.info(
                "delivery %s attempt %d: %s; next in %.1f s", delivery_id, attempt, error, delay
            )
        except LostClaim:
            logger.warning("delivery %s was taken over by another sender", delivery_id)

    def _send(self, definition: AlertDefinition, record: DeliveryRecord) -> tuple[int | None, str]:
        """POST the stored body; (status or None, what went wrong)."""
        body = record.body.encode()
        try:
            target = resolve_target(
                definition.url, allow_private=self._settings.webhook_allow_private
            )
            response = post_to_target(
                self._client,
                target,
                body,
                {
                    "Content-Type": "application/json",
                    "User-Agent": "tradewinds-webhooks",
                    SIGNATURE_HEADER: signature(body, definition.secret),
                    DELIVERY_HEADER: str(record.id),
                },
            )
        except RefusedTarget as e:
            return None, f"refused target: {e}"
        except httpx.TimeoutException:
            return None, "timed out"
        except httpx.HTTPError as e:
            return None, f"{type(e).__name__}: {e}"
        if 200 <= response.status_code < 300:
            return response.status_code, ""
        return response.status_code, f"HTTP {response.status_code}"
