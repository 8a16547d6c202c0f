"""Records written straight into a store, bypassing the API's checks: versions the
log may hold from before a bound existed (the log is append-only)."""

from typing import Any

import msgspec

from domain.records import ScenarioRecord
from domain.scenarios import ScenarioDefinition
from service.bootstrap import open_eventlog
from service.persistence.eventlog import utc_now
from service.settings import Settings


def unchecked(body: dict[str, Any], **rule_changes: Any) -> ScenarioDefinition:
    """The definition of a valid ``body`` with ``rule_changes`` set on every rule:
    ``msgspec.structs.replace``, like a Struct's constructor, does not validate."""
    definition = msgspec.convert(body, ScenarioDefinition)
    rules = [msgspec.structs.replace(rule, **rule_changes) for rule in definition.rules]
    return msgspec.structs.replace(definition, rules=rules)


def store_scenario(settings: Settings, slug: str, definition: ScenarioDefinition) -> None:
    """Version 1 of ``slug``, saved into the store as it is."""
    body = msgspec.json.encode(definition).decode()
    with open_eventlog(settings) as eventlog:
        eventlog.app.save(ScenarioRecord.define(slug, body, utc_now()))
