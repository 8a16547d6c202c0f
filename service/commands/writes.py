"""What the write endpoints do: append, retract, define, resolve.

Each command submits its records to the group committer and is answered only
after the commit. Uniqueness is the store's: a colliding id raises
``IntegrityError``, and only then does the command read what is stored to
decide between an idempotent replay (the first answer again) and a conflict.
Blocking reads run in worker threads, never on the event loop.
"""

import asyncio
import hashlib
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID, uuid4

import msgspec
from anyio import to_thread
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Recording
from msgspec import Struct

from domain.codecs import resolution_decoder as _resolution_decoder
from domain.codecs import stored_definition
from domain.codecs import world_event_decoder as _event_decoder
from domain.errors import (
    AlreadyResolved,
    AlreadyRetracted,
    Conflict,
    EventConflict,
    FieldError,
    InvalidInput,
    NotFound,
)
from domain.events import BaseEvent
from domain.records import (
    EventRecord,
    RequestRecord,
    ResolutionRecord,
    ScenarioRecord,
    idempotency_event_id,
    request_record_id,
    resolution_record_id,
    scenario_record_id,
)
from domain.scenarios import Resolution, ScenarioDefinition, check_definition
from service.persistence.committer import Build
from service.persistence.eventlog import EventLog
from service.persistence.stores import SharedStore

_ATTEMPTS = 5


class Receipt(Struct, kw_only=True):
    event_id: UUID
    position: int
    recorded_at: datetime


class ScenarioReceipt(Struct, kw_only=True):
    id: str
    version: int


class ResolutionReceipt(Struct, kw_only=True):
    position: int
    recorded_at: datetime


async def commit(log: EventLog, build: Build) -> list[Recording[UUID]]:
    """Submit ``build`` and wait for its commit, at most the commit timeout: then
    ``StoreUnavailable`` (a 503), never a request that hangs."""
    committer = log.committer
    future = committer.submit(build)
    try:
        return await asyncio.wait_for(asyncio.wrap_future(future), committer.commit_timeout_s)
    except TimeoutError:
        raise committer.timed_out(future) from None


def _recorded_at(recording: Recording[UUID]) -> datetime:
    timestamp: datetime = recording.domain_event.timestamp  # type: ignore[attr-defined]
    return timestamp


def event_body(event: BaseEvent) -> str:
    """The stored form of an event: canonical JSON, without its id (the record's id)."""
    return msgspec.json.encode(msgspec.structs.replace(event, event_id=None)).decode()


def assign_ids(events: Sequence[BaseEvent], key: str | None, *, batch: bool) -> list[UUID]:
    """Each event's id: its own, else one derived from the Idempotency-Key, else a new one."""
    ids: list[UUID] = []
    first_index: dict[UUID, int] = {}
    errors: list[FieldError] = []
    for i, event in enumerate(events):
        if event.event_id is not None:
            event_id = event.event_id
        elif key is not None:
            event_id = idempotency_event_id(key, i if batch else None)
        else:
            event_id = uuid4()
        if event_id in first_index:
            errors.append(
                FieldError(f"events[{i}].event_id", f"repeats events[{first_index[event_id]}]")
            )
        first_index.setdefault(event_id, i)
        ids.append(event_id)
    if errors:
        raise InvalidInput(errors)
    return ids


def _stored_versions(log: EventLog, ids: Sequence[UUID]) -> dict[UUID, tuple[BaseEvent, datetime]]:
    """The events already stored under any of these ids, with their recorded_at."""
    found: dict[UUID, tuple[BaseEvent, datetime]] = {}
    for event_id in ids:
        record = log.get(event_id)
        if record is not None:
            found[event_id] = (_event_decoder.decode(record.body), record.created_on)
    return found


def _positions(log: EventLog, ids: Sequence[UUID]) -> dict[UUID, int]:
    """Positions of stored events, read from the store: another replica may have
    stored them, and this replica's index may not have applied that write yet."""
    recorder = log.app.recorder
    assert isinstance(recorder, SharedStore)
    return recorder.positions_of(ids)


def request_fingerprint(endpoint: str, ids: Sequence[UUID], bodies: Sequence[str]) -> str:
    """What an Idempotency-Key stands for: the endpoint and every event, in order."""
    digest = hashlib.sha256(endpoint.encode())
    for event_id, body in zip(ids, bodies, strict=True):
        digest.update(b"\n" + event_id.bytes + body.encode())
    return digest.hexdigest()


async def _replay_of(log: EventLog, key: str, fingerprint: str) -> bool:
    """True if this key was used for this very request; a conflict if for another."""
    request = await to_thread.run_sync(log.get, request_record_id(key))
    if request is None:
        return False
    if request.fingerprint != fingerprint:
        msg = f"Idempotency-Key {key!r} was used for another request"
        raise EventConflict(msg)
    return True


async def append_events(
    log: EventLog, events: Sequence[BaseEvent], key: str | None, *, batch: bool
) -> tuple[list[Receipt], bool]:
    """Store the events in one transaction. Returns their receipts, in order, and
    whether anything new was stored (False: the request had been made before)."""
    ids = assign_ids(events, key, batch=batch)
    body_list = [event_body(e) for e in events]
    bodies = dict(zip(ids, body_list, strict=True))
    fingerprint = None
    if key is not None:
        fingerprint = request_fingerprint("batch" if batch else "single", ids, body_list)
    receipts: dict[UUID, Receipt] = {}
    todo = list(ids)
    for _ in range(_ATTEMPTS):
        pending = todo

        def build(recorded_at: datetime, pending: list[UUID] = pending) -> list[Aggregate]:
            records: list[Aggregate] = [
                EventRecord.record(i, bodies[i], recorded_at) for i in pending
            ]
            if key is not None and fingerprint is not None:
                records.append(RequestRecord.record(key, fingerprint, recorded_at))
            return records

        try:
            recordings = await commit(log, build)
        except IntegrityError:
            if (
                key is not None
                and fingerprint is not None
                and await _replay_of(log, key, fingerprint)
            ):
                pending = todo = list(ids)
                receipts.clear()
            stored = await to_thread.run_sync(_stored_versions, log, pending)
            _refuse_other_content(ids, events, stored)
            known = await to_thread.run_sync(_positions, log, list(stored))
            for event_id, (_, recorded_at) in stored.items():
                receipts[event_id] = Receipt(
                    event_id=event_id, position=known[event_id], recorded_at=recorded_at
                )
            todo = [i for i in pending if i not in stored]
            if not todo:
                return [receipts[i] for i in ids], False
            continue
        for recording in recordings:
            event = recording.domain_event
            if isinstance(event, EventRecord.Recorded):
                receipts[event.originator_id] = Receipt(
                    event_id=event.originator_id,
                    position=recording.notification.id,
                    recorded_at=_recorded_at(recording),
                )
        return [receipts[i] for i in ids], True
    msg = "the event ids kept colliding with concurrent appends; try again"
    raise EventConflict(msg)


def _refuse_other_content(
    ids: Sequence[UUID], events: Sequence[BaseEvent], stored: dict[UUID, tuple[BaseEvent, datetime]]
) -> None:
    clashes = [
        str(event_id)
        for event_id, event in zip(ids, events, strict=True)
        if event_id in stored
        and stored[event_id][0] != msgspec.structs.replace(event, event_id=None)
    ]
    if clashes:
        msg = f"event id already stored with other content: {', '.join(clashes)}"
        raise EventConflict(msg)


async def retract_event(log: EventLog, event_id: UUID, reason: str) -> Receipt:
    record = await to_thread.run_sync(log.get, event_id)
    if not isinstance(record, EventRecord):
        msg = f"no event {event_id}"
        raise NotFound(msg)

    def build(recorded_at: datetime) -> list[Aggregate]:
        record.retract(reason, recorded_at)
        return [record]

    try:
        (recording,) = await commit(log, build)
    except IntegrityError:
        msg = f"event {event_id} is already retracted"
        raise AlreadyRetracted(msg) from None
    return Receipt(
        event_id=event_id,
        position=recording.notification.id,
        recorded_at=_recorded_at(recording),
    )


async def define_scenario(
    log: EventLog, slug: str, definition: ScenarioDefinition
) -> tuple[ScenarioReceipt, bool]:
    """Record a new version unless it equals the current one. Returns the
    receipt and whether this was the scenario's first version."""
    body = msgspec.json.encode(definition).decode()
    for _ in range(_ATTEMPTS):
        record = await to_thread.run_sync(log.get, scenario_record_id(slug))
        if record is None:
            check_definition(definition, opened_at=None)

        elif stored_definition(record.body) == definition:
            return ScenarioReceipt(id=slug, version=record.version), False
        else:
            check_definition(definition, opened_at=record.created_on)

        def build(recorded_at: datetime, record: ScenarioRecord | None = record) -> list[Aggregate]:
            if record is None:
                return [ScenarioRecord.define(slug, body, recorded_at)]
            record.revise(body, recorded_at)
            return [record]

        try:
            await commit(log, build)
        except IntegrityError:
            continue
        version = 1 if record is None else record.version
        return ScenarioReceipt(id=slug, version=version), record is None
    msg = f"scenario {slug} is being revised concurrently; try again"
    raise Conflict(msg)


async def resolve_scenario(log: EventLog, slug: str, resolution: Resolution) -> ResolutionReceipt:
    if await to_thread.run_sync(log.get, scenario_record_id(slug)) is None:
        msg = f"no scenario {slug}"
        raise NotFound(msg)
    body = msgspec.json.encode(resolution).decode()

    def build(recorded_at: datetime) -> list[Aggregate]:
        return [ResolutionRecord.record(slug, body, recorded_at)]

    try:
        (recording,) = await commit(log, build)
    except IntegrityError:
        existing = await to_thread.run_sync(log.get, resolution_record_id(slug))
        outcome = _resolution_decoder.decode(existing.body).outcome if existing else "?"
        msg = f"scenario {slug} is already resolved ({outcome})"
        raise AlreadyResolved(msg) from None
    return ResolutionReceipt(
        position=recording.notification.id, recorded_at=_recorded_at(recording)
    )
