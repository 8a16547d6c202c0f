"""The alert commands: define or change an alert, and delete it."""

import asyncio
from datetime import datetime

import msgspec
from eventsourcing.domain import Aggregate

from domain.alerts import AlertDefinition, check_condition, unknown_scenario_errors
from domain.errors import FieldError, InvalidInput, NotFound
from domain.records import AlertRecord, alert_record_id, scenario_record_id
from service.commands.commit import Revision, define_or_revise
from service.persistence.eventlog import EventLog
from service.workers.webhooks import RefusedTarget, check_target

_encoder = msgspec.json.Encoder()


async def check_definition(eventlog: EventLog, definition: AlertDefinition) -> None:
    """``InvalidInput`` for a condition that is not complete, a scenario that does not
    exist, or a webhook target that is refused."""
    check_condition(definition.condition)
    await check_scenarios(eventlog, definition.scenario_ids or [])
    allow_private = eventlog.settings.webhook_allow_private
    try:
        await asyncio.to_thread(check_target, definition.url, allow_private=allow_private)
    except RefusedTarget as e:
        raise InvalidInput([FieldError("url", str(e))]) from None


async def check_scenarios(eventlog: EventLog, scenario_ids: list[str]) -> None:
    """``InvalidInput`` naming each listed scenario the log does not hold (read from
    the store, not the index: a scenario defined a moment ago by another replica counts)."""

    def unknown() -> set[str]:
        return {s for s in set(scenario_ids) if eventlog.get(scenario_record_id(s)) is None}

    errors = unknown_scenario_errors(scenario_ids, await asyncio.to_thread(unknown))
    if errors:
        raise InvalidInput(errors)


def _busy(slug: str) -> str:
    return f"alert {slug} is being changed concurrently; try again"


async def define_alert(eventlog: EventLog, slug: str, definition: AlertDefinition) -> bool:
    """Record the definition unless it equals the current one; True if the alert is new
    (or was deleted)."""
    await check_definition(eventlog, definition)
    body = _encoder.encode(definition).decode()

    def revise(record: AlertRecord | None) -> Revision[bool]:
        if record is None:
            return Revision(lambda at: [AlertRecord.define(slug, body, at)], True)
        if not record.deleted and record.body == body:
            return Revision(None, False)

        def build(at: datetime) -> list[Aggregate]:
            record.revise(body, at)
            return [record]

        return Revision(build, record.deleted)

    return await define_or_revise(eventlog, alert_record_id(slug), revise, _busy(slug))


async def delete_alert(eventlog: EventLog, slug: str) -> None:
    def revise(record: AlertRecord | None) -> Revision[None]:
        if record is None or record.deleted:
            msg = f"no alert {slug}"
            raise NotFound(msg)

        def build(at: datetime) -> list[Aggregate]:
            record.delete(at)
            return [record]

        return Revision(build, None)

    await define_or_revise(eventlog, alert_record_id(slug), revise, _busy(slug))
