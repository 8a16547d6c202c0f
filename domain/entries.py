"""The log as JSON Lines: what ``tradewinds export`` writes and ``import`` reads.

One entry per log record, in position order. ``position`` and ``recorded_at``
are written by export; on import ``recorded_at`` is kept when present (so
``known_at`` answers stay reproducible) and stamped with the import time when
absent, and ``position`` is informational (the store assigns positions).

Alert definitions are written without their webhook secret unless the export
asks for secrets (``ExportedAlert``); webhook deliveries are operational state
and are not written at all.
"""

from typing import Annotated
from uuid import UUID

from msgspec import Meta, Struct

from domain.alerts import AlertDefinition
from domain.events import AwareTime, WorldEvent
from domain.scenarios import Resolution, ScenarioDefinition, Slug


class _Entry(
    Struct, tag_field="type", forbid_unknown_fields=True, omit_defaults=True, kw_only=True
):
    position: int | None = None
    recorded_at: AwareTime | None = None


class EventEntry(_Entry, tag="event", kw_only=True):
    event: WorldEvent


class RetractionEntry(_Entry, tag="retraction", kw_only=True):
    event_id: UUID
    reason: str


class ScenarioEntry(_Entry, tag="scenario", kw_only=True):
    scenario_id: Slug
    version: int | None = None
    definition: ScenarioDefinition


class ResolutionEntry(_Entry, tag="resolution", kw_only=True):
    """A resolution: the first of a scenario, or one anew after a retraction.
    ``version`` (written by export) is its place among the scenario's resolutions
    and retractions (1, 2, ...); without it, an entry resolves a scenario with no
    resolution in force, and is skipped when that resolution is already in force."""

    scenario_id: Slug
    resolution: Resolution
    version: int | None = None


class ResolutionRetractionEntry(_Entry, tag="resolution_retraction", kw_only=True):
    """A retraction of the resolution in force; ``version`` as for a resolution."""

    scenario_id: Slug
    reason: str
    version: int | None = None


class RequestEntry(_Entry, tag="idempotency_key", kw_only=True):
    """An Idempotency-Key and the fingerprint of the request first sent with it."""

    key: str
    fingerprint: str


class ExportedAlert(AlertDefinition, kw_only=True, omit_defaults=True):
    """An alert definition as exported: ``secret`` is absent unless asked for."""

    secret: Annotated[str, Meta(min_length=1, max_length=512)] | None = None  # type: ignore[assignment]


class AlertEntry(_Entry, tag="alert", kw_only=True):
    """A version of an alert's definition (a PUT that changed it)."""

    alert_id: Slug
    version: int | None = None
    definition: ExportedAlert


class AlertDeletionEntry(_Entry, tag="alert_deletion", kw_only=True):
    alert_id: Slug
    version: int | None = None


LogEntry = (
    EventEntry
    | RetractionEntry
    | ScenarioEntry
    | ResolutionEntry
    | ResolutionRetractionEntry
    | RequestEntry
    | AlertEntry
    | AlertDeletionEntry
)
