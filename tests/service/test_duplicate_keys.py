"""The duplicate index's own identity (one getter per kind) is the domain's."""

from importlib import resources

import msgspec

from domain.duplicates import identity
from domain.events import WorldEvent
from service.projection.duplicates import key_identity
from tests.service.events_data import approval, signal

_decoder = msgspec.json.Decoder(WorldEvent)


def _demo_events() -> list[WorldEvent]:
    text = resources.files("service.demo").joinpath("timeline.jsonl").read_bytes()
    found = []
    for line in text.splitlines():
        entry = msgspec.json.decode(line)
        if isinstance(entry, dict) and "kind" in entry.get("event", {}):
            found.append(_decoder.decode(msgspec.json.encode(entry["event"])))
    return found


def test_every_kind_of_the_demo_gets_the_domains_identity() -> None:
    events = _demo_events()
    assert len({e.__struct_config__.tag for e in events}) >= 8
    for event in events:
        assert key_identity(event) == identity(event)


def test_text_and_lists_are_normalised_as_the_domain_does() -> None:
    for body in (
        approval(authority="  US Commerce (BIS) ", product="h200"),
        signal("  Straße "),
        {
            "kind": "negotiation",
            "occurred_at": "2025-01-01T00:00:00Z",
            "summary": "talks",
            "parties": ["US", " cn", "EU"],
            "stage": "talks",
        },
    ):
        event = _decoder.decode(msgspec.json.encode(body))
        assert key_identity(event) == identity(event)
