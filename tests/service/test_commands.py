"""Define or revise: a command that finds the record moved on when it commits (another
writer appended first) reads it again and decides again, a bounded number of times."""

import asyncio
from collections.abc import Iterator
from datetime import datetime

import msgspec
import pytest
from eventsourcing.domain import Aggregate

from domain.errors import Conflict
from domain.records import ScenarioRecord, scenario_record_id
from domain.scenarios import ScenarioDefinition
from service.bootstrap import open_eventlog
from service.commands.commit import ATTEMPTS, Revision, define_or_revise
from service.persistence.eventlog import EventLog
from service.settings import Settings
from tests.service.events_data import scenario

SLUG = "raced"


@pytest.fixture
def eventlog(settings: Settings) -> Iterator[EventLog]:
    with open_eventlog(settings) as opened:
        yield opened


def body(prior: float) -> str:
    definition = msgspec.convert(scenario(prior=prior), ScenarioDefinition)
    return msgspec.json.encode(definition).decode()


def another_writer_defines(eventlog: EventLog, prior: float) -> None:
    eventlog.committer.result(
        eventlog.committer.submit(lambda at: [ScenarioRecord.define(SLUG, body(prior), at)])
    )


def another_writer_revises(eventlog: EventLog, prior: float) -> None:
    record = eventlog.get(scenario_record_id(SLUG))
    eventlog.committer.update(record, lambda r, at: r.revise(body(prior), at))


def test_a_collision_is_decided_again_on_the_record_as_it_now_is(eventlog: EventLog) -> None:
    seen: list[int | None] = []

    def revise(record: ScenarioRecord | None) -> Revision[str]:
        seen.append(None if record is None else record.version)
        if record is None:
            another_writer_defines(eventlog, 0.3)  # between this read and the commit
            return Revision(lambda at: [ScenarioRecord.define(SLUG, body(0.2), at)], "defined")
        return Revision(None, f"found version {record.version}")

    answer = asyncio.run(define_or_revise(eventlog, scenario_record_id(SLUG), revise, "busy"))
    assert seen == [None, 1]
    assert answer == "found version 1"
    assert eventlog.get(scenario_record_id(SLUG)).body == body(0.3)


def test_a_revision_that_keeps_colliding_is_a_conflict(eventlog: EventLog) -> None:
    another_writer_defines(eventlog, 0.1)
    calls: list[int] = []

    def revise(record: ScenarioRecord | None) -> Revision[str]:
        assert record is not None
        calls.append(record.version)
        another_writer_revises(eventlog, 0.2 + len(calls) / 100)

        def build(at: datetime) -> list[Aggregate]:
            record.revise(body(0.9), at)
            return [record]

        return Revision(build, "revised")

    with pytest.raises(Conflict, match="busy: try again"):
        asyncio.run(define_or_revise(eventlog, scenario_record_id(SLUG), revise, "busy: try again"))
    assert calls == list(range(1, ATTEMPTS + 1))
    stored = eventlog.get(scenario_record_id(SLUG))
    assert (stored.version, stored.body) == (ATTEMPTS + 1, body(0.2 + ATTEMPTS / 100))
