"""The scenario commands: define or revise a scenario, and resolve it."""

from datetime import datetime

import msgspec
from anyio import to_thread
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from domain.codecs import resolution_decoder as _resolution_decoder
from domain.codecs import stored_definition
from domain.errors import AlreadyResolved, NotFound
from domain.records import (
    ResolutionRecord,
    ScenarioRecord,
    resolution_record_id,
    scenario_record_id,
)
from domain.scenarios import Resolution, ScenarioDefinition, check_definition
from service.commands.commit import Revision, commit, define_or_revise, recorded_at_of
from service.persistence.eventlog import EventLog
from service.wire import Wire


class ScenarioReceipt(Wire):
    id: str
    version: int


class ResolutionReceipt(Wire):
    position: int
    recorded_at: datetime


async def define_scenario(
    eventlog: EventLog, slug: str, definition: ScenarioDefinition
) -> tuple[ScenarioReceipt, bool]:
    """Record a new version unless it equals the current one. Returns the
    receipt and whether this was the scenario's first version."""
    body = msgspec.json.encode(definition).decode()

    def revise(record: ScenarioRecord | None) -> Revision[tuple[ScenarioReceipt, bool]]:
        if record is None:
            check_definition(definition, opened_at=None)
            return Revision(
                lambda at: [ScenarioRecord.define(slug, body, at)],
                (ScenarioReceipt(id=slug, version=1), True),
            )
        if stored_definition(record.body) == definition:
            return Revision(None, (ScenarioReceipt(id=slug, version=record.version), False))
        check_definition(definition, opened_at=record.created_on)

        def build(at: datetime) -> list[Aggregate]:
            record.revise(body, at)
            return [record]

        return Revision(build, (ScenarioReceipt(id=slug, version=record.version + 1), False))

    busy = f"scenario {slug} is being revised concurrently; try again"
    return await define_or_revise(eventlog, scenario_record_id(slug), revise, busy)


async def resolve_scenario(
    eventlog: EventLog, slug: str, resolution: Resolution
) -> ResolutionReceipt:
    if await to_thread.run_sync(eventlog.get, scenario_record_id(slug)) is None:
        msg = f"no scenario {slug}"
        raise NotFound(msg)
    body = msgspec.json.encode(resolution).decode()

    def build(recorded_at: datetime) -> list[Aggregate]:
        return [ResolutionRecord.record(slug, body, recorded_at)]

    try:
        (recording,) = await commit(eventlog, build)
    except IntegrityError:
        existing = await to_thread.run_sync(eventlog.get, resolution_record_id(slug))
        outcome = _resolution_decoder.decode(existing.body).outcome if existing else "?"
        msg = f"scenario {slug} is already resolved ({outcome})"
        raise AlreadyResolved(msg) from None
    return ResolutionReceipt(
        position=recording.notification.id, recorded_at=recorded_at_of(recording)
    )
