"""Export the log as JSON Lines, and import such a file.

Import is idempotent: an entry already in the store with the same content is
skipped, one with other content stops the import with an error naming its line.
Entries are saved in chunks, each in one transaction, in file order, so an
export imported into an empty store reproduces the same log (same records,
same order, same ``recorded_at``). An event entry without ``event_id`` gets an
id derived from its content, so importing the same file twice adds nothing.
Alert entries are ``alert_exchange``'s; the line framing is ``jsonlines``'.
"""

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import msgspec
from eventsourcing.persistence import IntegrityError

from domain.codecs import stored_definition
from domain.codecs import world_event_decoder as _event_decoder
from domain.entries import (
    AlertDeletionEntry,
    AlertEntry,
    EventEntry,
    LogEntry,
    RequestEntry,
    ResolutionEntry,
    ResolutionRetractionEntry,
    RetractionEntry,
    ScenarioEntry,
)
from domain.errors import DomainError, InvalidInput
from domain.records import (
    EventRecord,
    RequestRecord,
    ScenarioRecord,
    request_record_id,
    scenario_record_id,
)
from domain.scenarios import check_definition
from service.commands.alert_exchange import alert_entry_of, import_alert
from service.commands.events import event_body
from service.commands.jsonlines import ImportFailed, ImportReport, read_jsonl, write_jsonl
from service.commands.resolutionexchange import (
    RESOLUTION_EVENTS,
    import_resolution,
    import_resolution_retraction,
    resolution_entry,
)
from service.persistence.eventlog import EventLog

__all__ = ["ImportFailed", "ImportReport", "export_entries", "import_entries", "read_jsonl",
           "write_jsonl"]  # fmt: skip
_encoder = msgspec.json.Encoder()
_CONTENT_IDS = uuid5(NAMESPACE_URL, "https://tradewinds.invalid/import")


# --- export -------------------------------------------------------------------


class _Slugs(dict[UUID, str]):
    """Record id to slug (scenario or alert), filled from each record's first event as
    the export passes it; a record first met after ``after`` (an export resumed past its
    first event) is read from the store once."""

    def __init__(self, eventlog: EventLog) -> None:
        super().__init__()
        self.eventlog = eventlog

    def __missing__(self, record_id: UUID) -> str:
        slug: str = self.eventlog.app.repository.get(record_id, version=1).slug
        self[record_id] = slug
        return slug


def export_entries(
    eventlog: EventLog, page: int = 1000, *, with_secrets: bool = False, after: int = 0
) -> Iterator[LogEntry]:
    """Every record of the log after position ``after``, in position order (alerts'
    webhook secrets only ``with_secrets``), read ``page`` records at a time."""
    slugs = _Slugs(eventlog)
    while True:
        notifications = eventlog.app.recorder.select_notifications(
            after, page, inclusive_of_start=False
        )
        for n in notifications:
            event: Any = eventlog.app.mapper.to_domain_event(n)
            entry = _entry_of(event, n.id, slugs) or alert_entry_of(
                event, {"position": n.id, "recorded_at": event.timestamp}, slugs,
                with_secrets=with_secrets,
            )  # fmt: skip
            if entry is not None:
                yield entry
        if len(notifications) < page:
            return
        after = notifications[-1].id


def _entry_of(event: Any, position: int, slugs: dict[UUID, str]) -> LogEntry | None:
    common: dict[str, Any] = {"position": position, "recorded_at": event.timestamp}
    if isinstance(event, EventRecord.Recorded):
        world = _event_decoder.decode(event.body)
        world.event_id = event.originator_id
        return EventEntry(event=world, **common)
    if isinstance(event, EventRecord.Retracted):
        return RetractionEntry(event_id=event.originator_id, reason=event.reason, **common)
    if isinstance(event, ScenarioRecord.Defined):
        slugs[event.originator_id] = event.slug
    if isinstance(event, ScenarioRecord.Defined | ScenarioRecord.Revised):
        return ScenarioEntry(
            scenario_id=slugs[event.originator_id],
            version=event.originator_version,
            definition=stored_definition(event.body),
            **common,
        )
    if isinstance(event, RESOLUTION_EVENTS):
        return resolution_entry(event, slugs, common)
    if isinstance(event, RequestRecord.Recorded):
        return RequestEntry(key=event.key, fingerprint=event.fingerprint, **common)
    return None


# --- import -------------------------------------------------------------------


def _content_id(body: str) -> UUID:
    return uuid5(_CONTENT_IDS, body)


class _Chunk:
    """One chunk of entries turned into domain events, in file order."""

    def __init__(
        self, eventlog: EventLog, now: datetime, *, careful: bool, unsigned: list[str]
    ) -> None:
        self.eventlog = eventlog
        self.unsigned = unsigned
        self.now = now
        self.careful = careful
        self.records: dict[UUID, Any] = {}
        self.events: list[Any] = []
        self.report = ImportReport()

    def _get(self, record_id: UUID) -> Any | None:
        if record_id in self.records:
            return self.records[record_id]
        record = self.eventlog.get(record_id)
        if record is not None:
            self.records[record_id] = record
        return record

    def _keep(self, record: Any) -> None:
        self.records[record.id] = record
        self.events.extend(record.collect_events())
        self.report.added += 1

    def skip(self) -> None:
        self.report.skipped += 1

    get = _get
    keep = _keep

    def add(self, entry: LogEntry) -> None:
        at = entry.recorded_at or self.now
        if isinstance(entry, EventEntry):
            self._event(entry, at)
        elif isinstance(entry, RetractionEntry):
            self._retraction(entry, at)
        elif isinstance(entry, ScenarioEntry):
            self._scenario(entry, at)
        elif isinstance(entry, ResolutionEntry):
            self._resolution(entry, at)
        elif isinstance(entry, AlertEntry | AlertDeletionEntry):
            import_alert(self, entry, at)
        elif isinstance(entry, ResolutionRetractionEntry):
            self._resolution_retraction(entry, at)
        else:
            self._request(entry, at)

    def _request(self, entry: RequestEntry, at: datetime) -> None:
        existing = self._get(request_record_id(entry.key))
        if existing is not None:
            if existing.fingerprint != entry.fingerprint:
                msg = f"Idempotency-Key {entry.key!r} is stored for another request"
                raise DomainError(msg)
            self.report.skipped += 1
            return
        self._keep(RequestRecord.record(entry.key, entry.fingerprint, at))

    def _event(self, entry: EventEntry, at: datetime) -> None:
        body = event_body(entry.event)
        event_id = entry.event.event_id or _content_id(body)
        existing = self._get(event_id) if self.careful or event_id in self.records else None
        if existing is not None:
            if existing.body != body and _event_decoder.decode(
                existing.body
            ) != _event_decoder.decode(body):
                msg = f"event {event_id} is stored with other content"
                raise DomainError(msg)
            self.report.skipped += 1
            return
        self._keep(EventRecord.record(event_id, body, at))

    def _retraction(self, entry: RetractionEntry, at: datetime) -> None:
        record = self._get(entry.event_id)
        if record is None:
            msg = f"retraction of unknown event {entry.event_id}"
            raise DomainError(msg)
        if record.retraction == entry.reason:
            self.report.skipped += 1
            return
        record.retract(entry.reason, at)
        self._keep(record)

    def _scenario(self, entry: ScenarioEntry, at: datetime) -> None:
        """A numbered version (from an export) must land as that version; an
        unnumbered one (hand-written) is like a PUT: a new version unless unchanged."""
        record = self._get(scenario_record_id(entry.scenario_id))
        body = _encoder.encode(entry.definition).decode()
        current = 0 if record is None else record.version
        if record is not None and entry.version is not None and entry.version <= current:
            stored: ScenarioRecord = self.eventlog.app.repository.get(
                record.id, version=entry.version
            )
            if stored_definition(stored.body) != entry.definition:
                msg = f"scenario {entry.scenario_id} v{entry.version} is stored otherwise"
                raise DomainError(msg)
            self.report.skipped += 1
            return
        if entry.version is not None and entry.version != current + 1:
            msg = f"scenario {entry.scenario_id} v{entry.version} follows v{current}"
            raise DomainError(msg)
        if record is None:
            check_definition(entry.definition, opened_at=at)
            self._keep(ScenarioRecord.define(entry.scenario_id, body, at))
            return
        if entry.version is None and stored_definition(record.body) == entry.definition:
            self.report.skipped += 1
            return
        check_definition(entry.definition, opened_at=record.created_on)
        record.revise(body, at)
        self._keep(record)

    def _resolution(self, entry: ResolutionEntry, at: datetime) -> None:
        import_resolution(self, entry, at)

    def _resolution_retraction(self, entry: ResolutionRetractionEntry, at: datetime) -> None:
        import_resolution_retraction(self, entry, at)


def _run_chunk(
    eventlog: EventLog,
    chunk: list[tuple[int, LogEntry]],
    now: datetime,
    *,
    careful: bool,
    unsigned: list[str],
) -> ImportReport:
    built = _Chunk(eventlog, now, careful=careful, unsigned=unsigned)
    for number, entry in chunk:
        try:
            built.add(entry)
        except InvalidInput as e:
            raise ImportFailed(number, e.detail) from None
        except DomainError as e:
            raise ImportFailed(number, e.detail) from None
    if built.events:
        eventlog.app.save(*built.events)
    return built.report


def import_entries(
    eventlog: EventLog,
    entries: Iterable[tuple[int, LogEntry]],
    now: Callable[[], datetime],
    chunk_size: int = 1000,
) -> ImportReport:
    """Import numbered entries; each chunk is one transaction."""
    total = ImportReport()
    unsigned = total.alerts_without_secret
    chunk: list[tuple[int, LogEntry]] = []

    def flush() -> None:
        stamp = now()
        try:
            report = _run_chunk(eventlog, chunk, stamp, careful=False, unsigned=unsigned)
        except IntegrityError:
            report = _run_chunk(eventlog, chunk, stamp, careful=True, unsigned=unsigned)
        total.added += report.added
        total.skipped += report.skipped
        chunk.clear()

    for item in entries:
        chunk.append(item)
        if len(chunk) >= chunk_size:
            flush()
    if chunk:
        flush()
    return total
