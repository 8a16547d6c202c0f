"""Look-alikes are confirmed by the identity bytes the index keeps, not by decoding
stored bodies: the same answers as the domain's rule, even when every key collides."""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.duplicates import IDENTIFYING_FIELDS, identity, looks_alike
from domain.events import BaseEvent, WorldEvent
from service.projection.duplicates import NAMED_AT_MOST, DuplicateIndex, KeyOf, identity_bytes
from service.projection.eventtable import EventTable
from service.projection.storedbodies import KeptBodies
from tests.service.test_duplicate_keys import _demo_events

_decoder = msgspec.json.Decoder(WorldEvent)


class _CountedBodies(KeptBodies):
    """Every body kept, and the positions read back counted."""

    def __init__(self) -> None:
        super().__init__()
        self.read_positions = 0

    def read(self, positions: Sequence[int]) -> list[str]:
        self.read_positions += len(positions)
        return super().read(positions)


def _indexed(
    events: list[BaseEvent], key_of: KeyOf | None = None
) -> tuple[EventTable, list[UUID], _CountedBodies]:
    bodies = _CountedBodies()
    table, ids = EventTable(bodies), []
    if key_of is not None:
        table.duplicates = DuplicateIndex(table, key_of)
    for row, event in enumerate(events):
        event_id = uuid4()
        table.append(
            event_id.bytes,
            msgspec.json.encode(event).decode(),
            event.__struct_config__.tag,
            event.occurred_at.timestamp(),
            row + 1,
            datetime(2026, 1, 1, tzinfo=UTC).timestamp() + row,
        )
        table.duplicates.add(row, event)
        ids.append(event_id)
    return table, ids, bodies


def _by_the_rule(
    events: list[BaseEvent], ids: list[UUID], event: BaseEvent, before: int
) -> list[UUID]:
    """The domain's answer: the latest ``NAMED_AT_MOST`` earlier look-alikes, in log order."""
    alike = [ids[row] for row in range(before - 1) if looks_alike(event, events[row])]
    return alike[-NAMED_AT_MOST:]


def _assert_answers_as_the_rule(events: list[BaseEvent], key_of: KeyOf | None = None) -> None:
    table, ids, _ = _indexed(events, key_of)
    for row, event in enumerate(events):
        position = row + 1
        assert table.duplicates.look_alikes(event, position) == _by_the_rule(
            events, ids, event, position
        )


def _demo_twice() -> list[BaseEvent]:
    """The demo's events, then each again shouted and twelve hours later (a second
    report), then each a week later (no look-alike)."""
    events = _demo_events()
    again = []
    for event in events:
        changes: dict[str, Any] = {
            name: f" {value.upper()}"
            for name in IDENTIFYING_FIELDS[event.__struct_config__.tag]
            if isinstance(value := getattr(event, name), str)
        }
        changes["occurred_at"] = event.occurred_at + timedelta(hours=12)
        again.append(msgspec.structs.replace(event, **changes))
    later = [
        msgspec.structs.replace(e, occurred_at=e.occurred_at + timedelta(days=7)) for e in events
    ]
    return [*events, *again, *later]


def test_the_demo_timeline_gets_the_rules_answers() -> None:
    events = _demo_twice()
    table, _, _ = _indexed(events)
    named = [table.duplicates.look_alikes(e, row + 1) for row, e in enumerate(events)]
    assert any(named), "the demo has look-alikes"
    _assert_answers_as_the_rule(events)


def test_every_key_colliding_on_the_demo_names_no_wrong_event() -> None:
    _assert_answers_as_the_rule(_demo_twice(), key_of=lambda ident, day: 7)


def test_look_alikes_are_confirmed_without_reading_a_body() -> None:
    event = _decoder.decode(msgspec.json.encode(_approval("US Commerce (BIS)", "H200", 0)))
    table, ids, bodies = _indexed([event] * 30, key_of=lambda ident, day: day)
    before = bodies.read_positions
    assert table.duplicates.look_alikes(event, 31) == ids[-NAMED_AT_MOST:]
    assert bodies.read_positions == before


def _approval(authority: str, product: str, hours: int) -> dict[str, Any]:
    occurred = datetime(2025, 3, 1, tzinfo=UTC) + timedelta(hours=hours)
    return {
        "kind": "export_approval",
        "occurred_at": occurred.isoformat(),
        "summary": "s",
        "authority": authority,
        "category": "ai_chip",
        "product": product,
        "destination": "CN",
    }


def _negotiation(parties: list[str], hours: int) -> dict[str, Any]:
    occurred = datetime(2025, 3, 1, tzinfo=UTC) + timedelta(hours=hours)
    return {
        "kind": "negotiation",
        "occurred_at": occurred.isoformat(),
        "summary": "s",
        "parties": parties,
        "stage": "talks",
    }


def _signal(label: str, hours: int) -> dict[str, Any]:
    occurred = datetime(2025, 3, 1, tzinfo=UTC) + timedelta(hours=hours)
    return {"kind": "signal", "occurred_at": occurred.isoformat(), "summary": "s", "label": label}


_names = st.sampled_from(["bis", " BIS", "Bis ", "mofcom", "h200", "H20", "a\x00b", "ß", "SS"])
_bodies = st.one_of(
    st.builds(_approval, _names, _names, st.integers(0, 72)),
    st.builds(
        _negotiation,
        st.lists(st.sampled_from(["US", "CN", "EU", "JP"]), min_size=2, max_size=3),
        st.integers(0, 72),
    ),
    st.builds(_signal, _names, st.integers(0, 72)),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_bodies, max_size=40), st.sampled_from([None, 0, 1]))
def test_a_corpus_with_forced_collisions_gets_the_rules_answers(
    bodies: list[dict[str, Any]], colliding: int | None
) -> None:
    """``colliding`` 0: every key the same; 1: keys by day only; None: the real hash."""
    events = [_decoder.decode(msgspec.json.encode(body)) for body in bodies]
    key_of: KeyOf | None = {
        None: None,
        0: lambda ident, day: 0,
        1: lambda ident, day: day,
    }[colliding]
    _assert_answers_as_the_rule(events, key_of)


def test_identity_bytes_are_equal_exactly_when_the_domains_identities_are() -> None:
    events = _demo_twice()
    for _ in range(2):  # the second time from what the first remembered
        made = [identity_bytes(event) for event in events]
        for a, made_a in zip(events, made, strict=True):
            for b, made_b in zip(events, made, strict=True):
                assert (made_a == made_b) == (identity(a) == identity(b))
