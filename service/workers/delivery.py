"""Alert delivery: one ``DeliveryWorker`` thread per process sends every delivery
that is due, oldest first: it claims the delivery in the log (owner and lease),
POSTs the stored body signed with the alert's secret, and records the outcome: a
2xx succeeds; anything else (another status, a timeout, a refused or unreachable
target) is an attempt, retried after ``webhook_retry_base_s * 2**(n-1)`` (at most
``webhook_retry_max_s``) until ``webhook_max_attempts``, then the delivery fails.
Pending deliveries are records in the log (``service.workers.alerter`` appends
them), so a restart (or another replica, once the lease expired) picks them up: at
least once.
"""

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import UUID

import httpx
from eventsourcing.persistence import IntegrityError

from domain.alerts import AlertDefinition
from domain.records import DeliveryRecord, LeaseHeld
from service.persistence.errors import as_store_error
from service.persistence.eventlog import EventLog
from service.workers.registry import Backoff, owner_name, wait_for_catch_up
from service.workers.webhooks import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    RefusedTarget,
    post_to_target,
    resolve_target,
    signature,
)

logger = logging.getLogger("service.alerts")


class LostClaim(Exception):
    """The delivery moved on in the store (another sender claimed it)."""


class DeliveryWorker:
    """One thread per process that sends due deliveries (see the module docstring)."""

    def __init__(self, eventlog: EventLog) -> None:
        self._eventlog = eventlog
        self._index = eventlog.index
        settings = eventlog.settings
        self._settings = settings
        self.owner = owner_name()
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
        return self._eventlog.committer.now()

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
        if not wait_for_catch_up(self._eventlog, self._stopping):
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
            self._index.reached(self._eventlog.committer.last_position, 1.0)
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

        self._index.wait_for_alerts(moved, timeout)

    def _record(
        self, record: DeliveryRecord, change: Callable[[DeliveryRecord, datetime], None]
    ) -> None:
        try:
            self._eventlog.committer.update(record, change)
        except IntegrityError:
            raise LostClaim(str(record.id)) from None

    def _deliver(self, delivery_id: UUID) -> None:
        record = self._eventlog.get(delivery_id)
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
