"""What the log stores, as eventsourcing aggregates: world events, scenario
definitions, resolutions, idempotency requests and backtest jobs (the alert
records are in ``domain.alert_records``, the ids in ``domain.record_ids``).

Bodies are stored as canonical JSON text written by msgspec, not as nested
dicts: eventsourcing's JSON transcoder gives meaning to objects with the keys
``_type_`` and ``_data_``, which a signal's free attributes could otherwise
carry into the log. Every event's ``timestamp`` is its ``recorded_at``.

The stored topics of these classes are ``domain.records:<qualname>``; the names
re-exported here keep ``from domain.records import ...`` working for them all.
"""

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.alert_records import AlertRecord, DeliveryRecord
from domain.errors import AlreadyResolved, AlreadyRetracted, NothingToRetract
from domain.leases import LeaseHeld, check_lease_free
from domain.record_ids import (
    alert_record_id,
    delivery_record_id,
    idempotency_event_id,
    request_record_id,
    resolution_record_id,
    scenario_record_id,
)

__all__ = [
    "AlertRecord",
    "BacktestRecord",
    "DeliveryRecord",
    "EventRecord",
    "LeaseHeld",
    "RequestRecord",
    "ResolutionRecord",
    "ScenarioRecord",
    "alert_record_id",
    "delivery_record_id",
    "idempotency_event_id",
    "request_record_id",
    "resolution_record_id",
    "scenario_record_id",
]


class EventRecord(Aggregate):
    """One accepted world event; version 2, if present, is its retraction."""

    class Recorded(Aggregate.Created):
        body: str

    class Retracted(Aggregate.Event):
        reason: str

        def apply(self, aggregate: Any) -> None:
            aggregate.retraction = self.reason

    def __init__(self, body: str) -> None:
        self.body = body
        self.retraction: str | None = None

    @classmethod
    def record(cls, event_id: UUID, body: str, recorded_at: datetime) -> "EventRecord":
        return cls._create(cls.Recorded, id=event_id, body=body, timestamp=recorded_at)

    def retract(self, reason: str, recorded_at: datetime) -> None:
        if self.retraction is not None:
            msg = f"event {self.id} is already retracted"
            raise AlreadyRetracted(msg)
        self.trigger_event(self.Retracted, reason=reason, timestamp=recorded_at)


class ScenarioRecord(Aggregate):
    """Every version of one scenario's definition, in order."""

    class Defined(Aggregate.Created):
        slug: str
        body: str

    class Revised(Aggregate.Event):
        body: str

        def apply(self, aggregate: Any) -> None:
            aggregate.body = self.body

    def __init__(self, slug: str, body: str) -> None:
        self.slug = slug
        self.body = body

    @classmethod
    def define(cls, slug: str, body: str, recorded_at: datetime) -> "ScenarioRecord":
        return cls._create(
            cls.Defined, id=scenario_record_id(slug), slug=slug, body=body, timestamp=recorded_at
        )

    def revise(self, body: str, recorded_at: datetime) -> None:
        self.trigger_event(self.Revised, body=body, timestamp=recorded_at)


class ResolutionRecord(Aggregate):
    """How a scenario resolved, one per scenario: its first resolution
    (``Recorded``), then, in turn, retractions and resolutions anew. A wrong
    resolution is corrected by appending, never edited; a command appends to the
    version it read, so two racing corrections cannot both win."""

    class Recorded(Aggregate.Created):
        slug: str
        body: str

    class Retracted(Aggregate.Event):
        reason: str

        def apply(self, aggregate: Any) -> None:
            aggregate.retraction = self.reason

    class Resolved(Aggregate.Event):
        body: str

        def apply(self, aggregate: Any) -> None:
            aggregate.body = self.body
            aggregate.retraction = None

    def __init__(self, slug: str, body: str) -> None:
        self.slug = slug
        self.body = body
        self.retraction: str | None = None

    @property
    def in_force(self) -> bool:
        """Whether the latest resolution stands (it was not retracted)."""
        return self.retraction is None

    @classmethod
    def record(cls, slug: str, body: str, recorded_at: datetime) -> "ResolutionRecord":
        return cls._create(
            cls.Recorded,
            id=resolution_record_id(slug),
            slug=slug,
            body=body,
            timestamp=recorded_at,
        )

    def resolve_again(self, body: str, recorded_at: datetime) -> None:
        if self.in_force:
            msg = f"scenario {self.slug} is already resolved"
            raise AlreadyResolved(msg)
        self.trigger_event(self.Resolved, body=body, timestamp=recorded_at)

    def retract(self, reason: str, recorded_at: datetime) -> None:
        if not self.in_force:
            msg = f"scenario {self.slug} has no resolution to retract (the last one was retracted)"
            raise NothingToRetract(msg)
        self.trigger_event(self.Retracted, reason=reason, timestamp=recorded_at)


class RequestRecord(Aggregate):
    """An Idempotency-Key and the fingerprint of the request first sent with it."""

    class Recorded(Aggregate.Created):
        key: str
        fingerprint: str

    def __init__(self, key: str, fingerprint: str) -> None:
        self.key = key
        self.fingerprint = fingerprint

    @classmethod
    def record(cls, key: str, fingerprint: str, recorded_at: datetime) -> "RequestRecord":
        return cls._create(
            cls.Recorded,
            id=request_record_id(key),
            key=key,
            fingerprint=fingerprint,
            timestamp=recorded_at,
        )


class BacktestRecord(Aggregate):
    """A backtest as a job in the log: requested, then claimed, progress, then a
    result or an error. Any replica can answer for it, and one that was running
    when the service stopped is found unfinished and run again after a restart.

    Exactly one runner runs it: a runner first appends ``Claimed`` (its owner id
    and a lease), and every later event it appends continues from the version it
    saw, so the store's version check refuses a runner whose record moved on (two
    claims at once: one wins). A ``Progressed`` event renews the lease for the
    claim's length. Once the lease has expired (a runner killed or stalled),
    another runner may claim it; the stalled one's next append then conflicts
    and it stops.
    """

    class Requested(Aggregate.Created):
        body: str

    class Claimed(Aggregate.Event):
        owner: str
        lease_until: datetime

        def apply(self, aggregate: Any) -> None:
            aggregate.owner = self.owner
            aggregate.lease_until = self.lease_until
            aggregate.lease_length = self.lease_until - self.timestamp

    class Progressed(Aggregate.Event):
        progress: float

        def apply(self, aggregate: Any) -> None:
            aggregate.progress = self.progress
            if aggregate.lease_until is not None:
                renewed = self.timestamp + aggregate.lease_length
                aggregate.lease_until = max(aggregate.lease_until, renewed)

    class Finished(Aggregate.Event):
        body: str

        def apply(self, aggregate: Any) -> None:
            aggregate.finished = True

    class Failed(Aggregate.Event):
        error: str

        def apply(self, aggregate: Any) -> None:
            aggregate.finished = True

    def __init__(self, body: str) -> None:
        self.body = body
        self.progress = 0.0
        self.finished = False
        self.owner: str | None = None
        self.lease_until: datetime | None = None
        self.lease_length = timedelta(0)

    @classmethod
    def request(cls, backtest_id: UUID, body: str, recorded_at: datetime) -> "BacktestRecord":
        return cls._create(cls.Requested, id=backtest_id, body=body, timestamp=recorded_at)

    def claim(self, owner: str, lease: timedelta, recorded_at: datetime) -> None:
        """Take (or renew) the lease; ``LeaseHeld`` if another owner's has not expired."""
        check_lease_free(
            self.owner, self.lease_until, owner, recorded_at, f"backtest {self.id} is run by"
        )
        self.trigger_event(
            self.Claimed, owner=owner, lease_until=recorded_at + lease, timestamp=recorded_at
        )

    def advance(self, progress: float, recorded_at: datetime) -> None:
        self.trigger_event(self.Progressed, progress=progress, timestamp=recorded_at)

    def finish(self, body: str, recorded_at: datetime) -> None:
        self.trigger_event(self.Finished, body=body, timestamp=recorded_at)

    def fail(self, error: str, recorded_at: datetime) -> None:
        self.trigger_event(self.Failed, error=error, timestamp=recorded_at)
