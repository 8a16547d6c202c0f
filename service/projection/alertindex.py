"""Alerts and their deliveries as the log tells them (part of the in-memory index).

The projection applies ``AlertRecord`` and ``DeliveryRecord`` events here (see
``service.projection.index``), under the index lock; the delivery worker finds pending
deliveries here after a restart, and the API answers from here.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from domain.alerts import AlertDefinition
from domain.codecs import alert_definition_decoder as _definition_decoder
from domain.records import AlertRecord, DeliveryRecord

DeliveryStatus = Literal["pending", "attempted", "succeeded", "failed"]


@dataclass
class AlertState:
    id: str
    version: int
    position: int
    defined_at: datetime
    definition: AlertDefinition
    deleted: bool = False

    def watches(self, scenario_id: str) -> bool:
        ids = self.definition.scenario_ids
        return not self.deleted and (ids is None or scenario_id in ids)


@dataclass
class DeliveryState:
    id: UUID
    alert: str
    scenario_id: str
    position: int
    fired_at: datetime
    body: str
    status: DeliveryStatus = "pending"
    attempts: int = 0
    next_at: datetime | None = None
    last_attempt_at: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None
    owner: str | None = None
    lease_until: datetime | None = None

    def due_at(self) -> datetime | None:
        """When the next attempt may start; None once it succeeded or was given up."""
        if self.status in ("succeeded", "failed"):
            return None
        due = self.next_at or self.fired_at
        if self.lease_until is not None and self.lease_until > due:
            return self.lease_until
        return due


@dataclass
class AlertIndex:
    alerts: dict[str, AlertState] = field(default_factory=dict)
    slugs: dict[UUID, str] = field(default_factory=dict)
    deliveries: dict[UUID, DeliveryState] = field(default_factory=dict)
    by_alert: dict[str, list[UUID]] = field(default_factory=dict)
    unfinished: set[UUID] = field(default_factory=set)
    """Deliveries neither succeeded nor given up: what the sender looks at."""
    generation: int = 0
    """Bumped by every delivery event: the worker rescans when it moves."""

    def active(self) -> list[AlertState]:
        return [a for a in self.alerts.values() if not a.deleted]


def _defined(alerts: AlertIndex, e: AlertRecord.Defined, position: int) -> None:
    alerts.slugs[e.originator_id] = e.slug
    alerts.alerts[e.slug] = AlertState(
        id=e.slug,
        version=1,
        position=position,
        defined_at=e.timestamp,
        definition=_definition_decoder.decode(e.body),
    )


def _revised(alerts: AlertIndex, e: AlertRecord.Revised, position: int) -> None:
    state = alerts.alerts[alerts.slugs[e.originator_id]]
    state.version = e.originator_version
    state.position = position
    state.definition = _definition_decoder.decode(e.body)
    state.deleted = False


def _deleted(alerts: AlertIndex, e: AlertRecord.Deleted, position: int) -> None:
    state = alerts.alerts[alerts.slugs[e.originator_id]]
    state.version = e.originator_version
    state.position = position
    state.deleted = True


def _fired(alerts: AlertIndex, e: DeliveryRecord.Fired, position: int) -> None:
    alerts.deliveries[e.originator_id] = DeliveryState(
        id=e.originator_id,
        alert=e.alert,
        scenario_id=e.scenario_id,
        position=position,
        fired_at=e.timestamp,
        body=e.body,
    )
    alerts.by_alert.setdefault(e.alert, []).append(e.originator_id)
    alerts.unfinished.add(e.originator_id)
    alerts.generation += 1


def _claimed(alerts: AlertIndex, e: DeliveryRecord.Claimed, position: int) -> None:
    state = alerts.deliveries[e.originator_id]
    state.owner, state.lease_until = e.owner, e.lease_until
    alerts.generation += 1


def _attempted(alerts: AlertIndex, e: DeliveryRecord.Attempted, position: int) -> None:
    state = alerts.deliveries[e.originator_id]
    state.status, state.attempts, state.next_at = "attempted", e.attempt, e.next_at
    state.last_attempt_at, state.last_status, state.last_error = e.timestamp, e.status, e.error
    state.owner, state.lease_until = None, None
    alerts.generation += 1


def _succeeded(alerts: AlertIndex, e: DeliveryRecord.Succeeded, position: int) -> None:
    state = alerts.deliveries[e.originator_id]
    state.status, state.attempts = "succeeded", e.attempt
    alerts.unfinished.discard(e.originator_id)
    state.last_attempt_at, state.last_status, state.last_error = e.timestamp, e.status, None
    state.owner, state.lease_until = None, None
    alerts.generation += 1


def _gave_up(alerts: AlertIndex, e: DeliveryRecord.GaveUp, position: int) -> None:
    state = alerts.deliveries[e.originator_id]
    state.status, state.attempts = "failed", e.attempt
    alerts.unfinished.discard(e.originator_id)
    state.last_attempt_at, state.last_error = e.timestamp, e.error
    state.owner, state.lease_until = None, None
    alerts.generation += 1


ALERT_HANDLERS: dict[type, Callable[[AlertIndex, Any, int], None]] = {
    AlertRecord.Defined: _defined,
    AlertRecord.Revised: _revised,
    AlertRecord.Deleted: _deleted,
    DeliveryRecord.Fired: _fired,
    DeliveryRecord.Claimed: _claimed,
    DeliveryRecord.Attempted: _attempted,
    DeliveryRecord.Succeeded: _succeeded,
    DeliveryRecord.GaveUp: _gave_up,
}
