"""Alert definitions in the JSON Lines log: exported, and imported back.

Export writes each version of an alert (``AlertEntry``) and each deletion
(``AlertDeletionEntry``); the webhook secret only when asked for
(``tradewinds export --with-secrets``). Deliveries are operational state (what
was sent, when, with which answer) and are not exported.

Import is idempotent like the other entries: a version already stored with the
same content is skipped, one stored otherwise stops the import at its line. An
alert needs its secret to sign webhooks, and a placeholder would sign them with
a value anyone can read, so a version without a secret that is not in the store
is **not imported**: the alert (and its later entries in the file) is left out
and named in the report, to be defined again with a secret (``PUT
/v1/alerts/{id}``). The URL is checked again at every delivery, as for any alert.
"""

from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

import msgspec

from domain.alerts import AlertDefinition, check_condition
from domain.codecs import alert_definition_decoder
from domain.entries import AlertDeletionEntry, AlertEntry, ExportedAlert
from domain.errors import DomainError
from domain.records import AlertRecord, alert_record_id
from service.persistence.eventlog import EventLog

_encoder = msgspec.json.Encoder()
AlertEntries = AlertEntry | AlertDeletionEntry


def alert_entry_of(
    event: Any, common: dict[str, Any], slugs: dict[UUID, str], *, with_secrets: bool
) -> AlertEntries | None:
    """The entry of one stored alert event, or None if ``event`` is not one."""
    if isinstance(event, AlertRecord.Defined):
        slugs[event.originator_id] = event.slug
    if isinstance(event, AlertRecord.Defined | AlertRecord.Revised):
        stored = msgspec.structs.asdict(alert_definition_decoder.decode(event.body))
        if not with_secrets:
            stored.pop("secret")
        return AlertEntry(
            alert_id=slugs[event.originator_id],
            version=event.originator_version,
            definition=ExportedAlert(**stored),
            **common,
        )
    if isinstance(event, AlertRecord.Deleted):
        return AlertDeletionEntry(
            alert_id=slugs[event.originator_id], version=event.originator_version, **common
        )
    return None


class ImportChunk(Protocol):
    """What ``import_alert`` needs of the import's chunk (``exchange._Chunk``)."""

    eventlog: EventLog
    unsigned: list[str]

    def get(self, record_id: UUID) -> Any | None: ...

    def keep(self, record: Any) -> None: ...

    def skip(self) -> None: ...


def _comparable(definition: AlertDefinition | ExportedAlert, secret: bool) -> dict[str, Any]:
    fields = msgspec.structs.asdict(definition)
    if not secret:
        fields.pop("secret")
    return fields


def _definition(entry: AlertEntry) -> AlertDefinition:
    fields = msgspec.structs.asdict(entry.definition)
    definition = AlertDefinition(**fields)
    check_condition(definition.condition)
    return definition


def _stored_version_matches(chunk: ImportChunk, record: AlertRecord, entry: AlertEntries) -> bool:
    stored: AlertRecord = chunk.eventlog.app.repository.get(record.id, version=entry.version)
    if isinstance(entry, AlertDeletionEntry):
        return stored.deleted
    secret = entry.definition.secret is not None
    current = alert_definition_decoder.decode(stored.body)
    same = _comparable(current, secret) == _comparable(entry.definition, secret)
    return not stored.deleted and same


def import_alert(chunk: ImportChunk, entry: AlertEntries, at: datetime) -> None:
    """Store one alert entry, skip it if stored, or raise ``DomainError`` if stored otherwise."""
    if entry.alert_id in chunk.unsigned:
        return
    record: AlertRecord | None = chunk.get(alert_record_id(entry.alert_id))
    if record is None and _later_version_unsigned(entry):
        chunk.unsigned.append(entry.alert_id)
        return
    current = 0 if record is None else record.version
    if record is not None and entry.version is not None and entry.version <= current:
        if not _stored_version_matches(chunk, record, entry):
            msg = f"alert {entry.alert_id} v{entry.version} is stored otherwise"
            raise DomainError(msg)
        chunk.skip()
        return
    if entry.version is not None and entry.version != current + 1:
        msg = f"alert {entry.alert_id} v{entry.version} follows v{current}"
        raise DomainError(msg)
    if isinstance(entry, AlertDeletionEntry):
        _delete(chunk, record, entry, at)
    elif entry.definition.secret is None:
        _unsigned(chunk, record, entry)
    else:
        _define(chunk, record, entry, at)


def _later_version_unsigned(entry: AlertEntries) -> bool:
    """A later version (or deletion) without a secret of an alert not in the store: its
    first version came in an earlier import (a log read in pages, ``GET /v1/log``) and
    was left out for want of its secret, so this one is left out too."""
    unsigned = isinstance(entry, AlertDeletionEntry) or entry.definition.secret is None
    return entry.version is not None and entry.version > 1 and unsigned


def _define(
    chunk: ImportChunk, record: AlertRecord | None, entry: AlertEntry, at: datetime
) -> None:
    body = _encoder.encode(_definition(entry)).decode()
    if record is None:
        chunk.keep(AlertRecord.define(entry.alert_id, body, at))
        return
    if entry.version is None and not record.deleted and record.body == body:
        chunk.skip()
        return
    record.revise(body, at)
    chunk.keep(record)


def _unsigned(chunk: ImportChunk, record: AlertRecord | None, entry: AlertEntry) -> None:
    """A version without a secret: skipped if it is the stored one, else not imported."""
    if record is not None and entry.version is None and not record.deleted:
        stored = alert_definition_decoder.decode(record.body)
        if _comparable(stored, secret=False) == _comparable(entry.definition, secret=False):
            chunk.skip()
            return
    chunk.unsigned.append(entry.alert_id)


def _delete(
    chunk: ImportChunk, record: AlertRecord | None, entry: AlertDeletionEntry, at: datetime
) -> None:
    if record is None or record.deleted:
        msg = f"deletion of alert {entry.alert_id}, which is not defined"
        raise DomainError(msg)
    record.delete(at)
    chunk.keep(record)
