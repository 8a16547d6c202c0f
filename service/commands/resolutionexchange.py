"""Resolutions and their retractions in the JSON Lines of ``tradewinds export`` and
``import`` (``service.commands.exchange``).

A scenario's resolution record holds, in turn, a resolution, its retraction, a
resolution anew, and so on. Export writes each as an entry numbered by its
``version`` in that record, so a file imported twice adds nothing and a file that
disagrees with the store stops the import. A hand-written entry without a number
acts like the HTTP command (resolve when none is in force, retract the one in
force) and is skipped when the store already says the same.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

import msgspec

from domain.codecs import resolution_decoder
from domain.entries import LogEntry, ResolutionEntry, ResolutionRetractionEntry
from domain.errors import DomainError
from domain.records import ResolutionRecord, resolution_record_id, scenario_record_id
from service.persistence.eventlog import EventLog

RESOLUTION_EVENTS = (
    ResolutionRecord.Recorded,
    ResolutionRecord.Resolved,
    ResolutionRecord.Retracted,
)


class Counts(Protocol):
    skipped: int


class Importing(Protocol):
    """What an import chunk offers (``exchange._Chunk``): the records read or built
    in it, and its report."""

    eventlog: EventLog

    @property
    def report(self) -> Counts: ...

    def _get(self, record_id: UUID) -> Any | None: ...

    def _keep(self, record: Any) -> None: ...


def resolution_entry(event: Any, slugs: dict[UUID, str], common: dict[str, Any]) -> LogEntry:
    """The export entry of a resolution record's event (``slugs``: record id to
    scenario, filled from each record's first event)."""
    if isinstance(event, ResolutionRecord.Recorded):
        slugs[event.originator_id] = event.slug
    slug, version = slugs[event.originator_id], event.originator_version
    if isinstance(event, ResolutionRecord.Retracted):
        return ResolutionRetractionEntry(
            scenario_id=slug, reason=event.reason, version=version, **common
        )
    resolution = resolution_decoder.decode(event.body)
    return ResolutionEntry(scenario_id=slug, resolution=resolution, version=version, **common)


def import_resolution(chunk: Importing, entry: ResolutionEntry, at: datetime) -> None:
    """A resolution, the first or one anew after a retraction."""
    if chunk._get(scenario_record_id(entry.scenario_id)) is None:
        msg = f"resolution of unknown scenario {entry.scenario_id}"
        raise DomainError(msg)
    record: ResolutionRecord | None = chunk._get(resolution_record_id(entry.scenario_id))

    def same(stored: ResolutionRecord) -> bool:
        return stored.in_force and resolution_decoder.decode(stored.body) == entry.resolution

    if _numbered_and_stored(chunk, record, entry, same):
        return
    body = resolution_body(entry)
    if record is None:
        chunk._keep(ResolutionRecord.record(entry.scenario_id, body, at))
        return
    if record.in_force:
        if entry.version is None and same(record):
            chunk.report.skipped += 1
            return
        msg = f"scenario {entry.scenario_id} is already resolved otherwise"
        raise DomainError(msg)
    record.resolve_again(body, at)
    chunk._keep(record)


def import_resolution_retraction(
    chunk: Importing, entry: ResolutionRetractionEntry, at: datetime
) -> None:
    """A retraction of the resolution in force."""
    record: ResolutionRecord | None = chunk._get(resolution_record_id(entry.scenario_id))
    if record is None:
        msg = f"retraction of a resolution of unresolved scenario {entry.scenario_id}"
        raise DomainError(msg)

    def same(stored: ResolutionRecord) -> bool:
        return stored.retraction == entry.reason

    if _numbered_and_stored(chunk, record, entry, same):
        return
    if not record.in_force:
        if entry.version is None:
            chunk.report.skipped += 1
            return
        msg = f"scenario {entry.scenario_id} has no resolution in force to retract"
        raise DomainError(msg)
    record.retract(entry.reason, at)
    chunk._keep(record)


def resolution_body(entry: ResolutionEntry) -> str:
    return msgspec.json.encode(entry.resolution).decode()


def _numbered_and_stored(
    chunk: Importing,
    record: ResolutionRecord | None,
    entry: ResolutionEntry | ResolutionRetractionEntry,
    same: Callable[[ResolutionRecord], bool],
) -> bool:
    """For an entry numbered by export: True (skipped) when the record already holds
    that version with the same content; a ``DomainError`` when it holds it otherwise
    or the number is not the next one."""
    if entry.version is None:
        return False
    current = 0 if record is None else record.version
    if record is not None and entry.version <= current:
        stored: ResolutionRecord = chunk.eventlog.app.repository.get(
            record.id, version=entry.version
        )
        if not same(stored):
            msg = f"resolution record {entry.version} of {entry.scenario_id} is stored otherwise"
            raise DomainError(msg)
        chunk.report.skipped += 1
        return True
    if entry.version != current + 1:
        msg = f"resolution record {entry.version} of {entry.scenario_id} follows {current}"
        raise DomainError(msg)
    return False
