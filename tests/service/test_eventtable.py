"""The lean in-memory table of world events: what it gives back is what went in."""

import pickle
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.events import RetractedInfo, WorldEvent
from service.projection.eventtable import KIND_CODES, EventTable, id_key, uuid_of
from service.projection.storedbodies import KeptBodies

_decoder = msgspec.json.Decoder(WorldEvent)


def _body(kind: str, occurred: str, label: str = "x") -> str:
    base = {"kind": kind, "occurred_at": occurred, "summary": f"{kind} {label}"}
    extra = {
        "signal": {"label": label},
        "negotiation": {"parties": ["US", "CN"], "stage": "talks"},
    }[kind]
    return msgspec.json.encode({**base, **extra}).decode()


def _table(rows: list[tuple[str, str]]) -> tuple[EventTable, list[UUID]]:
    table, ids = EventTable(KeptBodies()), []
    for i, (kind, occurred) in enumerate(rows):
        event_id = uuid4()
        body = _body(kind, occurred, str(i))
        event = _decoder.decode(body)
        recorded = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=i, microseconds=7)
        table.append(
            event_id.bytes,
            body,
            kind,
            event.occurred_at.timestamp(),
            10 + 3 * i,
            recorded.timestamp(),
        )
        ids.append(event_id)
    return table, ids


ROWS = [
    ("signal", "2025-01-01T00:00:00Z"),
    ("negotiation", "2025-02-01T00:00:00Z"),
    ("signal", "2025-03-01T00:00:00Z"),
    ("signal", "2025-04-01T00:00:00Z"),
    ("negotiation", "2025-05-01T00:00:00Z"),
]


def test_an_event_comes_back_with_its_id_position_and_recorded_at() -> None:
    table, ids = _table(ROWS)
    event = table.get(ids[2])
    assert event.event_id == ids[2]
    assert event.position == 16
    assert event.recorded_at == datetime(2026, 1, 1, 0, 0, 2, 7, tzinfo=UTC)
    assert event.summary == "signal 2"
    assert event.retracted is None
    assert table.get(uuid4()) is None


def test_a_retraction_shows_on_the_event() -> None:
    table, ids = _table(ROWS)
    info = RetractedInfo(recorded_at=datetime(2026, 2, 1, tzinfo=UTC), reason="wrong date")
    table.retract(ids[1], info)
    assert table.get(ids[1]).retracted == info
    assert table.get(ids[0]).retracted is None


def test_pages_follow_the_cursor_and_the_filters() -> None:
    table, _ = _table(ROWS)
    page, cursor = table.page(after=0, limit=2)
    assert [e.position for e in page] == [10, 13]
    assert cursor == 13
    page, cursor = table.page(after=cursor, limit=2)
    assert [e.position for e in page] == [16, 19]
    page, cursor = table.page(after=cursor, limit=2)
    assert [e.position for e in page] == [22]
    assert cursor is None
    signals, cursor = table.page(after=10, limit=5, kind="signal")
    assert [e.position for e in signals] == [16, 19]
    assert cursor is None
    march = datetime(2025, 3, 1, tzinfo=UTC).timestamp()
    later, _ = table.page(after=0, limit=5, occurred_from=march)
    assert [e.position for e in later] == [16, 19, 22]
    earlier, _ = table.page(after=0, limit=5, kind="negotiation", occurred_to=march)
    assert [e.position for e in earlier] == [13]


def test_scans_by_kind_decode_every_event_of_those_kinds() -> None:
    table, ids = _table(ROWS)
    found = list(table.of_kinds(frozenset({"negotiation"})))
    assert [(e.summary, i, p) for e, i, p, _ in found] == [
        ("negotiation 1", ids[1], 13),
        ("negotiation 4", ids[4], 22),
    ]


@settings(max_examples=300, deadline=None, database=None)
@given(
    st.datetimes(
        min_value=datetime(1970, 1, 1),
        max_value=datetime(2200, 1, 1),
        timezones=st.just(UTC),
    )
)
def test_recorded_at_survives_being_kept_as_seconds(moment: datetime) -> None:
    table = EventTable(KeptBodies())
    event_id = uuid4()
    table.append(
        event_id.bytes,
        _body("signal", "2025-01-01T00:00:00Z"),
        "signal",
        0.0,
        1,
        moment.timestamp(),
    )
    assert table.get(event_id).recorded_at == moment


@given(st.binary(min_size=16, max_size=16))
def test_an_id_made_from_its_bytes_is_the_uuid_of_them(key: bytes) -> None:
    made, expected = uuid_of(bytearray(key)), UUID(bytes=key)
    assert made == expected
    assert hash(made) == hash(expected)
    assert (str(made), made.bytes, made.version, made.is_safe) == (
        str(expected),
        expected.bytes,
        expected.version,
        expected.is_safe,
    )
    assert pickle.loads(pickle.dumps(made)) == expected
    assert {made: 1}[expected] == 1


def test_ids_that_share_a_prefix_are_filed_apart() -> None:
    """Clients may choose event ids, and structured ones share their first bytes
    (the demo's are ``7f3a0000-0000-4000-8000-…``). Filed by a prefix, every such
    event would sit under one key and each lookup would walk all of them."""
    table = EventTable(KeptBodies())
    ids = [UUID(f"7f3a0000-0000-4000-8000-{n:012x}") for n in range(2000)]
    body = _body("signal", "2025-01-01T00:00:00Z")
    half = len(ids) // 2
    for row, event_id in enumerate(ids[:half]):
        table.append(event_id.bytes, body, "signal", 1.7e9, row + 1, 1.8e9)
    rest = ids[half:]
    table.extend(
        [i.bytes for i in rest],
        [body] * len(rest),
        [KIND_CODES["signal"]] * len(rest),
        [1.7e9] * len(rest),
        list(range(half + 1, len(ids) + 1)),
        [1.8e9] * len(rest),
    )
    assert max(len(table._rows.rows(id_key(i.bytes))) for i in ids) <= 2
    assert [table.position(i) for i in ids] == list(range(1, len(ids) + 1))
