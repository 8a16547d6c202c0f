"""The scenario commands: define or revise a scenario, resolve it, retract a resolution."""

from collections.abc import Callable
from datetime import datetime

import msgspec
from anyio import to_thread
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from domain.codecs import resolution_decoder as _resolution_decoder
from domain.codecs import stored_definition
from domain.errors import AlreadyResolved, Conflict, NotFound, NothingToRetract
from domain.records import (
    ResolutionRecord,
    ScenarioRecord,
    resolution_record_id,
    scenario_record_id,
)
from domain.scenarios import (
    Resolution,
    ScenarioDefinition,
    check_definition,
    check_resolution,
)
from service.commands.commit import (
    ATTEMPTS,
    Revision,
    commit,
    define_or_revise,
    recorded_at_of,
)
from service.persistence.committer import Build
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
    """Record the resolution: 404 for an unknown scenario, 422 for a ``resolved_at``
    outside [opens_at, now], 409 while another resolution is in force."""
    scenario = await to_thread.run_sync(eventlog.get, scenario_record_id(slug))
    if scenario is None:
        msg = f"no scenario {slug}"
        raise NotFound(msg)
    opens_at = stored_definition(scenario.body).opens_at or scenario.created_on
    check_resolution(resolution, opens_at, eventlog.committer.now())
    body = msgspec.json.encode(resolution).decode()

    def change(record: ResolutionRecord | None) -> Build:
        if record is None:
            return lambda at: [ResolutionRecord.record(slug, body, at)]
        if record.in_force:
            outcome = _resolution_decoder.decode(record.body).outcome
            msg = f"scenario {slug} is already resolved ({outcome}); retract it first"
            raise AlreadyResolved(msg)
        return _appending(record, lambda at: record.resolve_again(body, at))

    return await _correct(eventlog, slug, change)


async def retract_resolution(eventlog: EventLog, slug: str, reason: str) -> ResolutionReceipt:
    """Append a retraction of the resolution in force: 404 for an unknown scenario,
    409 when none is in force (never resolved, or retracted already)."""
    if await to_thread.run_sync(eventlog.get, scenario_record_id(slug)) is None:
        msg = f"no scenario {slug}"
        raise NotFound(msg)

    def change(record: ResolutionRecord | None) -> Build:
        if record is None or not record.in_force:
            state = "was never resolved" if record is None else "has its resolution retracted"
            msg = f"scenario {slug} {state}: nothing to retract"
            raise NothingToRetract(msg)
        return _appending(record, lambda at: record.retract(reason, at))

    return await _correct(eventlog, slug, change)


def _appending(record: ResolutionRecord, append: Callable[[datetime], None]) -> Build:
    def build(at: datetime) -> list[Aggregate]:
        append(at)
        return [record]

    return build


async def _correct(
    eventlog: EventLog, slug: str, change: Callable[[ResolutionRecord | None], Build]
) -> ResolutionReceipt:
    """Read the scenario's resolution record, let ``change`` decide what to append
    (or raise), and commit it. The append continues from the version read, so when
    another writer appended first (``IntegrityError``) the record is read and judged
    again: of two racing resolutions one wins, the other is a 409."""
    for _ in range(ATTEMPTS):
        record = await to_thread.run_sync(eventlog.get, resolution_record_id(slug))
        build = change(record)
        try:
            (recording,) = await commit(eventlog, build)
        except IntegrityError:
            continue
        return ResolutionReceipt(
            position=recording.notification.id, recorded_at=recorded_at_of(recording)
        )
    msg = f"the resolution of scenario {slug} is being changed concurrently; try again"
    raise Conflict(msg)
