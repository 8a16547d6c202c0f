"""One msgspec decoder per type, built once (as in msgspec's GeoJSON example) and
shared by every module that reads that type: from the log, a log file or a table.

A decoder is specialised to its type when built, and its errors (the same
``msgspec.ValidationError`` messages, ``at `$.field```) depend only on that type.
The ``stored_*`` readers decode what the log holds, clamping parameters stored
before their present bounds existed into them.
"""

from typing import Any

import msgspec

from domain.alerts import AlertDefinition
from domain.backtests import BacktestRequest
from domain.entries import LogEntry
from domain.events import LoggedEvent, WorldEvent
from domain.scenarios import (
    SCENARIO_BOUNDS,
    Resolution,
    ScenarioDefinition,
    clamp_fields,
    clamp_rules,
)

world_event_decoder = msgspec.json.Decoder(WorldEvent)
logged_event_decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(LoggedEvent)
scenario_definition_decoder = msgspec.json.Decoder(ScenarioDefinition)
resolution_decoder = msgspec.json.Decoder(Resolution)
backtest_request_decoder = msgspec.json.Decoder(BacktestRequest)
alert_definition_decoder = msgspec.json.Decoder(AlertDefinition)
log_entry_decoder = msgspec.json.Decoder(LogEntry)


def stored_definition(body: str | bytes) -> ScenarioDefinition:
    """A definition as the log holds it, with any parameter stored before its
    present bounds existed clamped into them (anything else invalid still raises)."""
    try:
        return scenario_definition_decoder.decode(body)
    except msgspec.ValidationError:
        raw = msgspec.json.decode(body)
        if not isinstance(raw, dict):
            raise
        clamp_fields(raw, SCENARIO_BOUNDS)
        clamp_rules(raw.get("rules"))
        return scenario_definition_decoder.decode(msgspec.json.encode(raw))


def stored_request(body: str) -> BacktestRequest:
    """A backtest request as the log holds it: what-if rules stored before their
    parameters' present bounds existed are clamped into them."""
    try:
        return backtest_request_decoder.decode(body)
    except msgspec.ValidationError:
        raw = msgspec.json.decode(body)
        if not isinstance(raw, dict) or not isinstance(raw.get("rules"), dict):
            raise
        for rules in raw["rules"].values():
            clamp_rules(rules)
        return backtest_request_decoder.decode(msgspec.json.encode(raw))
