"""Catching up with the store at start, in bulk.

eventsourcing's projection runner maps every stored event to a domain event
object and hands it between two threads: about 75,000 records/s here. At start
the whole log has to be applied, so this reads it in pages and decodes the
state of the one frequent record, an accepted world event, straight into a
typed msgspec struct; other records go through eventsourcing's mapper. Every
record is applied by the same projection methods as when following live, so
the index is the same either way. From the position reached, on SQLite the
follower catches up again the same way after other processes' commits, and the
writer's own commits are applied from what it holds (``apply_recordings``);
on PostgreSQL the projection runner follows the log.

The pages are read as plain tuples (``RowReader.read_rows``, on SQLite and
PostgreSQL alike): ``select_notifications`` builds a ``UUID`` and a
``Notification`` per row (and a ``dict`` on PostgreSQL), half of its cost. A
recorder without it is read with ``select_notifications``.
"""

import gc
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import ApplicationRecorder, Notification, Recording, Tracking
from eventsourcing.utils import get_topic

from domain.records import EventRecord
from service.persistence.stores import Row, RowReader
from service.projection.index import LogIndex
from service.projection.logprojection import LogProjection
from service.projection.storedbodies import recorded_decoder

_RECORDED = get_topic(EventRecord.Recorded)
_RECORDED_TYPE = EventRecord.Recorded
PAGE = 2000


def _notification_reader(recorder: ApplicationRecorder) -> Callable[[int, int], list[Row]]:
    def read(after: int, limit: int) -> list[Row]:
        page = recorder.select_notifications(after, limit, inclusive_of_start=False)
        return [
            (n.id, id_bytes(n.originator_id), n.originator_version, n.topic, n.state) for n in page
        ]

    return read


def reader(recorder: ApplicationRecorder) -> Callable[[int, int], list[Row]]:
    """Pages of stored records after a position, in position order."""
    if isinstance(recorder, RowReader):
        return recorder.read_rows
    return _notification_reader(recorder)


def id_bytes(record_id: UUID | str | bytes) -> bytes:
    """A record id's 16 bytes, from a ``UUID``, its text or its bytes."""
    if isinstance(record_id, bytes):
        return record_id
    if isinstance(record_id, UUID):
        return record_id.bytes
    return bytes.fromhex(record_id.replace("-", ""))


def catch_up(app: Application[UUID], projection: LogProjection, view: LogIndex) -> int:
    """Apply every record after the view's position; returns how many were applied.
    Runs of world events are applied together (one lock, one wake-up).

    The cyclic garbage collector is paused meanwhile: the loop makes no cycles,
    and with Python's default thresholds its full collections, each walking the
    growing index, took a fifth of a replay."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _catch_up(app, projection, view)
    finally:
        if collecting:
            gc.enable()


def _catch_up(app: Application[UUID], projection: LogProjection, view: LogIndex) -> int:
    read = reader(app.recorder)
    applied = 0
    while True:
        page = read(view.position, PAGE)
        apply_rows(app, projection, view, page)
        applied += len(page)
        if len(page) < PAGE:
            return applied


def apply_rows(
    app: Application[UUID], projection: LogProjection, view: LogIndex, rows: Sequence[Row]
) -> None:
    """Apply stored records, in position order, that follow the view's position.
    Runs of world events are applied together (one lock, one wake-up)."""
    run: list[tuple[bytes, str, datetime, int]] = []
    decode, fromhex = recorded_decoder.decode, bytes.fromhex
    as_text = bool(rows) and isinstance(rows[0][1], str)  # SQLite's ids are their hex
    for row in rows:
        position, record_id, _, topic, state = row
        if topic == _RECORDED:
            recorded = decode(state)
            key = (
                fromhex(record_id.replace("-", ""))  # type: ignore[arg-type]
                if as_text
                else id_bytes(record_id)
            )
            run.append((key, recorded.body, recorded.timestamp.value, position))
            continue
        if run:
            view.add_events(run)
            run = []
        _apply_other(app, projection, row)
    if run:
        view.add_events(run)


def apply_recordings(
    app: Application[UUID],
    projection: LogProjection,
    view: LogIndex,
    recordings: Sequence[Recording[UUID]],
) -> None:
    """``apply_rows`` of records this process has just committed, from what the writer
    holds: a world event's id, body and recorded_at are its domain event's, not decoded
    again from its stored state (a sixth of the hand-over of a batch); the other
    records are applied from their stored state, as ``apply_rows`` does."""
    run: list[Recording[UUID]] = []
    for recording in recordings:
        if type(recording.domain_event) is _RECORDED_TYPE:
            run.append(recording)
            continue
        if run:
            _add_recorded(view, run)
            run = []
        n = recording.notification
        _apply_other(
            app,
            projection,
            (n.id, id_bytes(n.originator_id), n.originator_version, n.topic, n.state),
        )
    if run:
        _add_recorded(view, run)


def _add_recorded(view: LogIndex, run: list[Recording[UUID]]) -> None:
    """World events' recordings, in position order, as the index's columns."""
    events: list[Any] = [recording.domain_event for recording in run]  # EventRecord.Recorded
    view.add_columns(
        [event.originator_id.int.to_bytes(16) for event in events],
        [event.body for event in events],
        [event.timestamp for event in events],
        [recording.notification.id for recording in run],
    )


def _apply_other(app: Application[UUID], projection: LogProjection, row: Row) -> None:
    """A record other than a world event, through eventsourcing's mapper."""
    position, record_id, version, topic, state = row
    notification = Notification(
        id=position,
        originator_id=UUID(bytes=id_bytes(record_id)),
        originator_version=version,
        topic=topic,
        state=state,
    )
    tracking = Tracking(app.name, position)
    projection.process_event(app.mapper.to_domain_event(notification), tracking)
