"""Build ``history.jsonl``, the real history shipped with the product, from its source.

The source is a dataset of 37 US-China technology and trade questions that opened
and resolved between 2018 and mid-2025, with 246 dated public events (2017-2025),
each question's rules and its outcome. It was run once; the file it wrote is
committed, and nothing reads the source at run time::

    python -m service.demo.build_history SOURCE.json [-o service/demo/history.jsonl]

The transformation, into the JSON Lines log format of ``tradewinds export/import``:

- a question is a ``scenario`` entry (id, title, question, opens_at, deadline,
  prior and rules as given, plus the tag ``history``), recorded at its ``opens_at``;
- an event is an ``event`` entry recorded at its ``occurred_at`` (the day it became
  public); its ``event_id`` is derived from its content, so loading the file twice
  adds nothing;
- an outcome is a ``resolution`` entry recorded at its ``resolved_at`` (the day the
  outcome became true for "yes", the deadline for "no").

So every record carries a reconstructed ``recorded_at``: the log is what the service
would have recorded had it run with these rules from 2018, which is what makes a
backtest "as served" (the track record) and calibration as of a past time meaningful
on a fresh install. Entries are in ``recorded_at`` order (at one instant: scenarios,
then events, then resolutions), so loading the file into an empty store keeps
``recorded_at`` non-decreasing along the log. Everything is validated as an import
would (each entry decodes, each definition passes ``check_definition`` at its
opening, each resolution falls within [opens_at, deadline]) before anything is
written.
"""

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import msgspec

from domain.codecs import world_event_decoder
from domain.entries import EventEntry, LogEntry, ResolutionEntry, ScenarioEntry
from domain.scenarios import Resolution, ScenarioDefinition, check_definition
from service.commands.events import event_body
from service.commands.jsonlines import write_jsonl

TAG = "history"
HISTORY_IDS = uuid5(NAMESPACE_URL, "https://tradewinds.invalid/history-2018-2025")
DEFAULT_OUTPUT = Path(__file__).with_name("history.jsonl")
_ORDER = {ScenarioEntry: 0, EventEntry: 1, ResolutionEntry: 2}


class HistoryError(ValueError):
    """The source does not make a valid history (which item, and why)."""


def event_id_of(body: str) -> UUID:
    """An event's id: derived from its stored form, the same on every build."""
    return uuid5(HISTORY_IDS, body)


def scenario_entry(item: dict[str, Any]) -> ScenarioEntry:
    fields = {k: v for k, v in item.items() if k not in ("id", "resolution")}
    fields["tags"] = sorted({*fields.get("tags", []), TAG})
    definition = msgspec.convert(fields, ScenarioDefinition)
    if definition.opens_at is None:
        raise HistoryError(f"scenario {item['id']}: opens_at is required")
    check_definition(definition, opened_at=definition.opens_at)
    return ScenarioEntry(
        scenario_id=item["id"], definition=definition, recorded_at=definition.opens_at
    )


def resolution_entry(item: dict[str, Any], definition: ScenarioDefinition) -> ResolutionEntry:
    resolution = msgspec.convert(item["resolution"], Resolution)
    opens, deadline = definition.opens_at, definition.deadline
    if resolution.outcome not in ("yes", "no"):
        raise HistoryError(f"scenario {item['id']}: outcome {resolution.outcome!r}")
    if opens is None or not opens <= resolution.resolved_at <= deadline:
        raise HistoryError(f"scenario {item['id']}: resolved_at outside [opens_at, deadline]")
    return ResolutionEntry(
        scenario_id=item["id"], resolution=resolution, recorded_at=resolution.resolved_at
    )


def event_entry(item: dict[str, Any]) -> EventEntry:
    event = world_event_decoder.decode(msgspec.json.encode(item))
    body = event_body(event)
    event.event_id = event_id_of(body)
    return EventEntry(event=event, recorded_at=event.occurred_at)


def history_entries(source: dict[str, Any]) -> list[LogEntry]:
    """Every entry of the history, in the order to load it."""
    entries: list[LogEntry] = []
    for item in source["scenarios"]:
        scenario = scenario_entry(item)
        entries += [scenario, resolution_entry(item, scenario.definition)]
    entries += [event_entry(item) for item in source["events"]]
    return sorted(entries, key=_load_order)


def _load_order(entry: LogEntry) -> tuple[datetime, int]:
    assert entry.recorded_at is not None
    return entry.recorded_at, _ORDER[type(entry)]


def main(argv: Sequence[str] | None = None) -> int:
    args = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    args.add_argument("source", type=Path, help="the history dataset (JSON)")
    args.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    parsed = args.parse_args(argv)
    entries = history_entries(msgspec.json.decode(parsed.source.read_bytes()))
    with parsed.output.open("wb") as out:
        count = write_jsonl(entries, out)
    print(f"{count} entries written to {parsed.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
