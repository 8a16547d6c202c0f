"""The alert records in the log: an alert's definitions and its webhook deliveries.

These classes were defined in ``domain.records``, and the log stores every event
with its class's topic (``module:qualname``). Their topics are pinned to the old
module with eventsourcing's explicit ``TOPIC`` (one on the aggregate and on each
of its event classes, ``Event`` and ``Created`` included), so the stored records
stay readable by every version and new ones are written exactly as before.
"""

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.leases import check_lease_free
from domain.record_ids import alert_record_id


class AlertRecord(Aggregate):
    """An alert's definitions (each PUT that changes it is a version) and its deletion.
    A PUT after a deletion defines it again (a new version)."""

    TOPIC = "domain.records:AlertRecord"

    class Event(Aggregate.Event):
        TOPIC = "domain.records:AlertRecord.Event"

    class Created(Event, Aggregate.Created):
        TOPIC = "domain.records:AlertRecord.Created"

    class Defined(Aggregate.Created):
        TOPIC = "domain.records:AlertRecord.Defined"
        slug: str
        body: str

    class Revised(Aggregate.Event):
        TOPIC = "domain.records:AlertRecord.Revised"
        body: str

        def apply(self, aggregate: Any) -> None:
            aggregate.body = self.body
            aggregate.deleted = False

    class Deleted(Aggregate.Event):
        TOPIC = "domain.records:AlertRecord.Deleted"

        def apply(self, aggregate: Any) -> None:
            aggregate.deleted = True

    def __init__(self, slug: str, body: str) -> None:
        self.slug = slug
        self.body = body
        self.deleted = False

    @classmethod
    def define(cls, slug: str, body: str, recorded_at: datetime) -> "AlertRecord":
        return cls._create(
            cls.Defined, id=alert_record_id(slug), slug=slug, body=body, timestamp=recorded_at
        )

    def revise(self, body: str, recorded_at: datetime) -> None:
        self.trigger_event(self.Revised, body=body, timestamp=recorded_at)

    def delete(self, recorded_at: datetime) -> None:
        self.trigger_event(self.Deleted, timestamp=recorded_at)


class DeliveryRecord(Aggregate):
    """One webhook delivery: fired (pending, with the exact body to send), then per
    attempt a claim and its outcome, until it succeeded or was given up.

    A sender claims it first (owner and lease, like ``BacktestRecord``); the
    outcome continues from the version it saw, so two senders cannot both record
    an attempt, and another may take over once the lease has expired. The body
    is fixed when fired, so every attempt sends (and signs) the same bytes.
    """

    TOPIC = "domain.records:DeliveryRecord"

    class Event(Aggregate.Event):
        TOPIC = "domain.records:DeliveryRecord.Event"

    class Created(Event, Aggregate.Created):
        TOPIC = "domain.records:DeliveryRecord.Created"

    class Fired(Aggregate.Created):
        TOPIC = "domain.records:DeliveryRecord.Fired"
        alert: str
        scenario_id: str
        body: str

    class Claimed(Aggregate.Event):
        TOPIC = "domain.records:DeliveryRecord.Claimed"
        owner: str
        lease_until: datetime

        def apply(self, aggregate: Any) -> None:
            aggregate.owner = self.owner
            aggregate.lease_until = self.lease_until

    class Attempted(Aggregate.Event):
        """An attempt that failed; the next one is due at ``next_at``."""

        TOPIC = "domain.records:DeliveryRecord.Attempted"
        attempt: int
        status: int | None
        error: str
        next_at: datetime

        def apply(self, aggregate: Any) -> None:
            aggregate.attempts = self.attempt
            aggregate.next_at = self.next_at
            aggregate.owner, aggregate.lease_until = None, None

    class Succeeded(Aggregate.Event):
        TOPIC = "domain.records:DeliveryRecord.Succeeded"
        attempt: int
        status: int

        def apply(self, aggregate: Any) -> None:
            aggregate.attempts = self.attempt
            aggregate.done = True

    class GaveUp(Aggregate.Event):
        TOPIC = "domain.records:DeliveryRecord.GaveUp"
        attempt: int
        error: str

        def apply(self, aggregate: Any) -> None:
            aggregate.attempts = self.attempt
            aggregate.done = True

    def __init__(self, alert: str, scenario_id: str, body: str) -> None:
        self.alert = alert
        self.scenario_id = scenario_id
        self.body = body
        self.attempts = 0
        self.next_at: datetime | None = None
        self.done = False
        self.owner: str | None = None
        self.lease_until: datetime | None = None

    @classmethod
    def fire(
        cls, delivery_id: UUID, alert: str, scenario_id: str, body: str, recorded_at: datetime
    ) -> "DeliveryRecord":
        return cls._create(
            cls.Fired,
            id=delivery_id,
            alert=alert,
            scenario_id=scenario_id,
            body=body,
            timestamp=recorded_at,
        )

    def claim(self, owner: str, lease: timedelta, recorded_at: datetime) -> None:
        """Take the lease; ``LeaseHeld`` if another owner's has not expired."""
        check_lease_free(
            self.owner,
            self.lease_until,
            owner,
            recorded_at,
            f"delivery {self.id} is being sent by",
        )
        self.trigger_event(
            self.Claimed, owner=owner, lease_until=recorded_at + lease, timestamp=recorded_at
        )

    def attempted(
        self, status: int | None, error: str, next_at: datetime, recorded_at: datetime
    ) -> None:
        self.trigger_event(
            self.Attempted,
            attempt=self.attempts + 1,
            status=status,
            error=error,
            next_at=next_at,
            timestamp=recorded_at,
        )

    def succeeded(self, status: int, recorded_at: datetime) -> None:
        self.trigger_event(
            self.Succeeded, attempt=self.attempts + 1, status=status, timestamp=recorded_at
        )

    def give_up(self, error: str, recorded_at: datetime) -> None:
        self.trigger_event(
            self.GaveUp, attempt=self.attempts + 1, error=error, timestamp=recorded_at
        )
