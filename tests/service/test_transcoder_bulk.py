"""The writer transcodes a commit's events in one pass (``stored_events``): the same
stored events, byte for byte, as eventsourcing's mapper makes one at a time."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

from domain.records import (
    BacktestRecord,
    EventRecord,
    RequestRecord,
    ResolutionRecord,
    ScenarioRecord,
)
from service.bootstrap import open_eventlog
from service.commands.events import creation_event
from service.persistence.transcoder import stored_events
from service.settings import Settings

AT = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
BODIES = [
    '{"kind":"signal","occurred_at":"2025-01-01T00:00:00Z","summary":"s","label":"x"}',
    '{"kind":"signal","occurred_at":"2025-01-01T00:00:00Z",'
    '"summary":"caf\u00e9 \\"q\\"\\n","label":"\u2603"}',
    "",
]


def _mixed_events() -> list[Any]:
    """Events of every kind of record, at several times, some sharing one time."""
    later = AT + timedelta(seconds=1)
    event = EventRecord.record(uuid4(), BODIES[0], AT)
    event.retract("a \u00e9 reason", later)
    scenario = ScenarioRecord.define("a-slug", '{"q":1}', AT)
    scenario.revise('{"q":2}', later)
    resolution = ResolutionRecord.record("a-slug", '{"outcome":true}', later)
    backtest = BacktestRecord.request(uuid4(), "{}", AT)
    backtest.claim("owner-1", timedelta(seconds=30), later)
    backtest.advance(0.5, later)
    backtest.finish('{"score":0.25}', later)
    request = RequestRecord.record("a-key", "a-fingerprint", AT)
    records = [event, scenario, resolution, backtest, request]
    return [e for record in records for e in record.pending_events]


def test_a_batch_is_stored_as_the_mapper_stores_it(tmp_path: Path) -> None:
    with open_eventlog(Settings(data_dir=tmp_path)) as log:
        mapper = log.app.mapper
        batch = [creation_event(uuid4(), BODIES[i % len(BODIES)], AT) for i in range(1000)]
        events = batch + _mixed_events()
        expected = [mapper.to_stored_event(e) for e in events]
        assert stored_events(mapper, events) == expected
        assert [s.state for s in stored_events(mapper, events)] == [s.state for s in expected]


def test_what_is_stored_in_one_pass_reads_back_as_the_events(tmp_path: Path) -> None:
    with open_eventlog(Settings(data_dir=tmp_path)) as log:
        events = _mixed_events()
        for stored, event in zip(stored_events(log.app.mapper, events), events, strict=True):
            assert log.app.mapper.to_domain_event(stored) == event
