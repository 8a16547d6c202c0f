"""What the log stores, as eventsourcing aggregates.

Each record's id is chosen so that the store's own uniqueness enforces a rule
of the contract without a read-then-write race:

- an ``EventRecord`` has the world event's ``event_id``: a second append of that
  id collides at version 1; its retraction is version 2, so a second retraction
  collides too;
- a ``ScenarioRecord`` has an id derived from the slug, one version per
  definition;
- a ``ResolutionRecord`` has an id derived from the slug: resolving twice
  collides;
- a ``RequestRecord`` has an id derived from an ``Idempotency-Key`` and holds
  the fingerprint of the request first sent with it, saved in the same
  transaction as that request's events: reusing the key collides, and the
  fingerprint tells a retry (same request) from a conflict (another one).

Bodies are stored as canonical JSON text written by msgspec, not as nested
dicts: eventsourcing's JSON transcoder gives meaning to objects with the keys
``_type_`` and ``_data_``, which a signal's free attributes could otherwise
carry into the log. Every event's ``timestamp`` is its ``recorded_at``.
"""

import json
from datetime import datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from domain.errors import AlreadyRetracted

_NAMESPACE = uuid5(NAMESPACE_URL, "https://tradewinds.invalid/log")


def scenario_record_id(slug: str) -> UUID:
    return uuid5(_NAMESPACE, f"scenario:{slug}")


def resolution_record_id(slug: str) -> UUID:
    return uuid5(_NAMESPACE, f"resolution:{slug}")


def idempotency_event_id(key: str, index: int | None = None) -> UUID:
    """The event id an ``Idempotency-Key`` stands for (the i-th of a batch). The parts
    are JSON-encoded, so no key can spell another key's index."""
    return uuid5(_NAMESPACE, json.dumps(["idempotency-key", key, index]))


def request_record_id(key: str) -> UUID:
    return uuid5(_NAMESPACE, json.dumps(["request", key]))


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
    """How a scenario resolved. There is at most one per scenario."""

    class Recorded(Aggregate.Created):
        slug: str
        body: str

    def __init__(self, slug: str, body: str) -> None:
        self.slug = slug
        self.body = body

    @classmethod
    def record(cls, slug: str, body: str, recorded_at: datetime) -> "ResolutionRecord":
        return cls._create(
            cls.Recorded,
            id=resolution_record_id(slug),
            slug=slug,
            body=body,
            timestamp=recorded_at,
        )


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


class LeaseHeld(Exception):
    """Another runner holds an unexpired lease on this backtest."""


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
        held = self.lease_until is not None and self.lease_until > recorded_at
        if held and self.owner != owner:
            msg = f"backtest {self.id} is run by {self.owner} until {self.lease_until}"
            raise LeaseHeld(msg)
        self.trigger_event(
            self.Claimed, owner=owner, lease_until=recorded_at + lease, timestamp=recorded_at
        )

    def advance(self, progress: float, recorded_at: datetime) -> None:
        self.trigger_event(self.Progressed, progress=progress, timestamp=recorded_at)

    def finish(self, body: str, recorded_at: datetime) -> None:
        self.trigger_event(self.Finished, body=body, timestamp=recorded_at)

    def fail(self, error: str, recorded_at: datetime) -> None:
        self.trigger_event(self.Failed, error=error, timestamp=recorded_at)


def alert_record_id(slug: str) -> UUID:
    return uuid5(_NAMESPACE, f"alert:{slug}")


def delivery_record_id(alert: str, version: int, scenario_id: str, change: str) -> UUID:
    """One delivery per alert version, scenario and change (a position, or a tick):
    replicas that see the same change record it once."""
    return uuid5(_NAMESPACE, json.dumps(["delivery", alert, version, scenario_id, change]))


class AlertRecord(Aggregate):
    """An alert's definitions (each PUT that changes it is a version) and its deletion.
    A PUT after a deletion defines it again (a new version)."""

    class Defined(Aggregate.Created):
        slug: str
        body: str

    class Revised(Aggregate.Event):
        body: str

        def apply(self, aggregate: Any) -> None:
            aggregate.body = self.body
            aggregate.deleted = False

    class Deleted(Aggregate.Event):
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

    class Fired(Aggregate.Created):
        alert: str
        scenario_id: str
        body: str

    class Claimed(Aggregate.Event):
        owner: str
        lease_until: datetime

        def apply(self, aggregate: Any) -> None:
            aggregate.owner = self.owner
            aggregate.lease_until = self.lease_until

    class Attempted(Aggregate.Event):
        """An attempt that failed; the next one is due at ``next_at``."""

        attempt: int
        status: int | None
        error: str
        next_at: datetime

        def apply(self, aggregate: Any) -> None:
            aggregate.attempts = self.attempt
            aggregate.next_at = self.next_at
            aggregate.owner, aggregate.lease_until = None, None

    class Succeeded(Aggregate.Event):
        attempt: int
        status: int

        def apply(self, aggregate: Any) -> None:
            aggregate.attempts = self.attempt
            aggregate.done = True

    class GaveUp(Aggregate.Event):
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
        held = self.lease_until is not None and self.lease_until > recorded_at
        if held and self.owner != owner:
            msg = f"delivery {self.id} is being sent by {self.owner} until {self.lease_until}"
            raise LeaseHeld(msg)
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
