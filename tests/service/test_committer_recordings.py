"""The committer's answers, made without the frozen dataclasses' ``__init__`` (issue 19),
are the ``Recording``s and ``Notification``s ``EventStore.put`` makes."""

import dataclasses
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from eventsourcing.persistence import Notification, Recording

from service.commands.events import creation_event
from service.persistence.committer import recordings
from service.persistence.eventlog import TradewindsStore
from service.persistence.transcoder import stored_events

BODY = '{"kind":"signal","occurred_at":"2025-01-01T00:00:00Z","summary":"s","label":"x"}'


def test_recordings_equal_those_the_dataclasses_make() -> None:
    app = TradewindsStore({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    at = datetime(2026, 1, 1, tzinfo=UTC)
    events = [creation_event(uuid4(), BODY, at) for _ in range(3)]
    stored = stored_events(app.mapper, events)
    made = recordings(events, stored, [7, 8, 9])
    expected = [
        Recording(
            event,
            Notification(
                id=position,
                originator_id=s.originator_id,
                originator_version=s.originator_version,
                topic=s.topic,
                state=s.state,
            ),
        )
        for event, s, position in zip(events, stored, [7, 8, 9], strict=True)
    ]
    assert made == expected
    assert [hash(r.notification) for r in made] == [hash(r.notification) for r in expected]
    assert [repr(r) for r in made] == [repr(r) for r in expected]
    assert made[1].notification.id == 8
    assert made[1].domain_event is events[1]
    with pytest.raises(dataclasses.FrozenInstanceError):
        made[0].notification.id = 1  # type: ignore[misc]
