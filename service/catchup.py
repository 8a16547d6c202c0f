"""Catching up with the store at start, in bulk.

eventsourcing's projection runner maps every stored event to a domain event
object and hands it between two threads: about 75,000 records/s here. At start
the whole log has to be applied, so this reads it in pages of raw
notifications and decodes the state of the one frequent record, an accepted
world event, straight into a typed msgspec struct; other records go through
eventsourcing's mapper. Every record is applied by the same projection methods
as when following live, so the index is the same either way. The projection
runner then follows the log from the position reached.
"""

from datetime import datetime
from typing import cast
from uuid import UUID

import msgspec
from eventsourcing.application import Application
from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic

from domain.records import EventRecord
from service.index import LogIndex, LogProjection

_RECORDED = get_topic(EventRecord.Recorded)
PAGE = 2000


class _Stamp(msgspec.Struct):
    value: datetime = msgspec.field(name="_data_")


class _RecordedState(msgspec.Struct):
    """The stored state of ``EventRecord.Recorded`` (eventsourcing's JSON layout)."""

    timestamp: _Stamp
    body: str


_recorded_decoder = msgspec.json.Decoder(_RecordedState)


def catch_up(app: Application[UUID], projection: LogProjection, view: LogIndex) -> int:
    """Apply every record after the view's position; returns how many were applied.
    Runs of world events are applied together (one lock, one wake-up)."""
    applied = 0
    while True:
        page = app.recorder.select_notifications(view.position, PAGE, inclusive_of_start=False)
        run: list[tuple[UUID, str, datetime, int]] = []
        for notification in page:
            if notification.topic == _RECORDED:
                state = _recorded_decoder.decode(notification.state)
                event_id = cast(UUID, notification.originator_id)
                run.append((event_id, state.body, state.timestamp.value, notification.id))
                continue
            if run:
                view.add_events(run)
                run = []
            tracking = Tracking(app.name, notification.id)
            projection.process_event(app.mapper.to_domain_event(notification), tracking)
        if run:
            view.add_events(run)
        applied += len(page)
        if len(page) < PAGE:
            return applied
