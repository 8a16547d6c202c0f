"""The event commands: append world events (one, or a batch in one transaction) and
retract one.

An append that collides is answered from what is stored: an idempotent replay (the
first answer again) or a conflict (another event under the same id). An event dated
more than ``FUTURE_SLACK`` after the service clock is refused. Each appended event's
receipt names its possible duplicates (``domain.duplicates``): the events before it
in the log, not retracted, that it looks like, including earlier ones of its batch.
"""

import asyncio
import contextlib
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Annotated
from uuid import UUID

import msgspec
from anyio import to_thread
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic
from litestar.openapi.spec.enums import OpenAPIFormat
from litestar.params import KwargDefinition

from domain.codecs import world_event_decoder as _event_decoder
from domain.errors import AlreadyRetracted, EventConflict, FieldError, InvalidInput, NotFound
from domain.events import BaseEvent
from domain.records import EventRecord, RequestRecord
from service.commands.commit import ATTEMPTS, commit, recorded_at_of
from service.commands.idempotency import assign_ids, replay_of, request_fingerprint
from service.persistence.committer import NewRecords
from service.persistence.eventlog import EventLog
from service.persistence.stores import SharedStore
from service.projection.index import LogIndex
from service.wire import Wire

_FIRST_PAUSE_S, _LAST_PAUSE_S = 0.0002, 0.005
_EVENT_RECORD_TOPIC = get_topic(EventRecord)
_encoder = msgspec.json.Encoder()
FUTURE_SLACK = timedelta(minutes=1)
"""How far after the service clock an event may be dated (clocks differ a little)."""
NAMED_ON_THE_LOOP = 100
"""Appends of at most this many events name their look-alikes on the event loop (found
together, about 0.45 ms for 100 events: the loop is held no longer than that); larger
ones in a worker thread. A hand-off to a worker thread and back costs about 0.7 ms of
CPU, more than finding a hundred events' look-alikes."""
NAMED_ONE_BY_ONE = 10
"""Up to this many events are looked up one by one (about 20 us each); more are
found together, a few microseconds each but about 100 us at least."""


IdText = Annotated[str, KwargDefinition(format=OpenAPIFormat.UUID)]
"""An event id as the text a ``UUID`` is written as (``str(UUID)``), documented as a
uuid: receipts name up to ten each, and text made once per id is copied by the
encoder, where a ``UUID`` is made (about 0.6 us) and then written each time."""


class Receipt(Wire):
    event_id: UUID
    position: int
    recorded_at: datetime


class AppendReceipt(Receipt):
    """An appended event's receipt. ``possible_duplicates``: the ids of the events it
    looks like (same kind and identifying fields, occurred within a day), stored
    before it and not retracted then, in log order, the latest ten at most; always
    present, empty when none."""

    possible_duplicates: list[IdText]


def check_not_future(events: Sequence[BaseEvent], now: datetime, *, batch: bool) -> None:
    """``InvalidInput`` naming every event dated after ``now`` plus ``FUTURE_SLACK``."""
    latest = now + FUTURE_SLACK
    errors = [
        FieldError(
            f"events[{i}].occurred_at" if batch else "occurred_at",
            f"must not be in the future: at most {latest.isoformat().replace('+00:00', 'Z')} "
            "(the service clock plus one minute)",
        )
        for i, event in enumerate(events)
        if event.occurred_at > latest
    ]
    if errors:
        raise InvalidInput(errors)


def event_body(event: BaseEvent) -> str:
    """The stored form of an event: canonical JSON, without its id (the record's id)."""
    return event_bodies((event,))[0]


def event_bodies(events: Sequence[BaseEvent]) -> list[str]:
    """``event_body`` of each: an event without an id (most) is encoded as it is."""
    encode, replace = _encoder.encode, msgspec.structs.replace
    return [
        encode(event if event.event_id is None else replace(event, event_id=None)).decode()
        for event in events
    ]


def creation_event(event_id: UUID, body: str, recorded_at: datetime) -> EventRecord.Recorded:
    """The event ``EventRecord.record`` creates its record with, without the record."""
    return EventRecord.Recorded(  # type: ignore[call-arg]  # a dataclass at run time
        originator_topic=_EVENT_RECORD_TOPIC,
        originator_id=event_id,
        originator_version=EventRecord.INITIAL_VERSION,
        timestamp=recorded_at,
        body=body,
    )


def _stored_versions(
    eventlog: EventLog, ids: Sequence[UUID]
) -> dict[UUID, tuple[BaseEvent, datetime]]:
    """The events already stored under any of these ids, with their recorded_at."""
    found: dict[UUID, tuple[BaseEvent, datetime]] = {}
    for event_id in ids:
        record = eventlog.get(event_id)
        if record is not None:
            found[event_id] = (_event_decoder.decode(record.body), record.created_on)
    return found


def _positions(eventlog: EventLog, ids: Sequence[UUID]) -> dict[UUID, int]:
    """Positions of stored events, read from the store: another replica may have
    stored them, and this replica's index may not have applied that write yet."""
    recorder = eventlog.app.recorder
    assert isinstance(recorder, SharedStore)
    return recorder.positions_of(ids)


async def append_events(
    eventlog: EventLog, events: Sequence[BaseEvent], key: str | None, *, batch: bool
) -> tuple[list[AppendReceipt], bool]:
    """Store the events in one transaction. Returns their receipts, in order, and
    whether anything new was stored (False: the request had been made before)."""
    check_not_future(events, eventlog.committer.now(), batch=batch)
    receipts, created = await _store(eventlog, events, key, batch=batch)
    if len(events) > NAMED_ON_THE_LOOP:
        named = await to_thread.run_sync(_name_duplicates, eventlog, events, receipts)
        return named, created
    await _applied(
        eventlog.index, max(r.position for r in receipts), eventlog.settings.read_your_writes_wait_s
    )
    return _named(eventlog.index, events, receipts), created


async def _store(
    eventlog: EventLog, events: Sequence[BaseEvent], key: str | None, *, batch: bool
) -> tuple[list[Receipt], bool]:
    ids = assign_ids(events, key, batch=batch)
    body_list = event_bodies(events)
    bodies = dict(zip(ids, body_list, strict=True))
    fingerprint = None
    if key is not None:
        fingerprint = request_fingerprint("batch" if batch else "single", ids, body_list)
    receipts: dict[UUID, Receipt] = {}
    todo = list(ids)
    for _ in range(ATTEMPTS):
        pending = todo

        def build(
            recorded_at: datetime, pending: list[UUID] = pending
        ) -> list[Aggregate | NewRecords]:
            records: list[Aggregate | NewRecords] = [
                NewRecords([creation_event(i, bodies[i], recorded_at) for i in pending])
            ]
            if key is not None and fingerprint is not None:
                records.append(RequestRecord.record(key, fingerprint, recorded_at))
            return records

        try:
            recordings = await commit(eventlog, build)
        except IntegrityError:
            if (
                key is not None
                and fingerprint is not None
                and await replay_of(eventlog, key, fingerprint)
            ):
                pending = todo = list(ids)
                receipts.clear()
            stored = await to_thread.run_sync(_stored_versions, eventlog, pending)
            _refuse_other_content(ids, events, stored)
            known = await to_thread.run_sync(_positions, eventlog, list(stored))
            for event_id, (_, stored_at) in stored.items():
                receipts[event_id] = Receipt(
                    event_id=event_id, position=known[event_id], recorded_at=stored_at
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
                    recorded_at=recorded_at_of(recording),
                )
        return [receipts[i] for i in ids], True
    msg = "the event ids kept colliding with concurrent appends; try again"
    raise EventConflict(msg)


def _name_duplicates(
    eventlog: EventLog, events: Sequence[BaseEvent], receipts: list[Receipt]
) -> list[AppendReceipt]:
    """The receipts with each event's possible duplicates. Waits (bounded, as a read
    of one's own write does) until this replica's index has applied the last of the
    events, so every event committed before each, from any replica and from its own
    batch, is considered; should the wait run out, the events applied by then are."""
    index = eventlog.index
    _await_applied(
        index, max(r.position for r in receipts), eventlog.settings.read_your_writes_wait_s
    )
    return _named(index, events, receipts)


def _named(
    index: LogIndex, events: Sequence[BaseEvent], receipts: list[Receipt]
) -> list[AppendReceipt]:
    """The receipts with each event's look-alikes, from the rows the index has applied:
    a few events one lookup each, more found together (``projection.lookalikes``)."""
    duplicates = index.table.duplicates
    asked = [(event, receipt.position) for event, receipt in zip(events, receipts, strict=True)]
    if len(asked) > NAMED_ONE_BY_ONE:
        named = duplicates.all_look_alike_texts(asked)
    else:
        named = [duplicates.look_alike_texts(event, before) for event, before in asked]
    return [
        AppendReceipt(
            event_id=receipt.event_id,
            position=receipt.position,
            recorded_at=receipt.recorded_at,
            possible_duplicates=alikes,
        )
        for receipt, alikes in zip(receipts, named, strict=True)
    ]


def _await_applied(index: LogIndex, position: int, timeout: float) -> None:
    """Wait (bounded) until the index has applied ``position``. It polls instead of
    taking the index lock (``LogIndex.reached``): a write must not queue behind a
    reader or the projection holding that lock, and the lookup after it reads only
    rows the projection has finished with, as a listing does."""
    deadline = time.monotonic() + timeout
    pause = _FIRST_PAUSE_S
    while index.position < position and time.monotonic() < deadline:
        time.sleep(pause)
        pause = min(2 * pause, _LAST_PAUSE_S)


async def _applied(index: LogIndex, position: int, wait_s: float) -> None:
    """``_await_applied`` on the event loop, bounded the same: woken by the projection
    when it applies ``position`` (polling with ``asyncio.sleep`` cost a lone append
    about half a millisecond: the loop's timers wait whole milliseconds on epoll)."""
    if index.position >= position:
        return
    loop = asyncio.get_running_loop()
    applied: asyncio.Future[None] = loop.create_future()
    timer = loop.call_later(wait_s, _settle, applied)

    def wake() -> None:
        if applied.done():  # timed out meanwhile
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile (shutdown)
            loop.call_soon_threadsafe(_settle, applied)

    index.when_applied(position, wake)
    try:
        await applied
    finally:
        timer.cancel()


def _settle(future: "asyncio.Future[None]") -> None:
    if not future.done():
        future.set_result(None)


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


async def retract_event(eventlog: EventLog, event_id: UUID, reason: str) -> Receipt:
    record = await to_thread.run_sync(eventlog.get, event_id)
    if not isinstance(record, EventRecord):
        msg = f"no event {event_id}"
        raise NotFound(msg)

    def build(recorded_at: datetime) -> list[Aggregate]:
        record.retract(reason, recorded_at)
        return [record]

    try:
        (recording,) = await commit(eventlog, build)
    except IntegrityError:
        msg = f"event {event_id} is already retracted"
        raise AlreadyRetracted(msg) from None
    return Receipt(
        event_id=event_id,
        position=recording.notification.id,
        recorded_at=recorded_at_of(recording),
    )
