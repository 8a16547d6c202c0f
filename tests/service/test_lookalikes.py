"""The look-alikes of many events found at once (``service.projection.lookalikes``)
are the per-event lookup's answers and the domain's rule's: over generated logs with
many look-alikes, retractions between the events, colliding keys, rows merged into
the key arrays and tails short enough to be asked again."""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.duplicates import looks_alike
from domain.events import BaseEvent, RetractedInfo, WorldEvent
from service.projection.duplicates import NAMED_AT_MOST, DuplicateIndex, KeyOf
from service.projection.eventtable import EventTable
from service.projection.keyindex import KeyIndex
from service.projection.lookalikes import TAIL, all_look_alike_texts, all_look_alikes
from service.projection.storedbodies import KeptBodies

_decoder = msgspec.json.Decoder(WorldEvent)
_KEYS: dict[str, KeyOf | None] = {
    "hash": None,
    "all equal": lambda ident, day: 0,
    "by day": lambda ident, day: day,
}


class _Log:
    """A table of events at positions 2, 4, 6, ...; a retraction of row ``r`` at the
    odd position after the row it follows."""

    def __init__(self, key_of: KeyOf | None, merge_at: int) -> None:
        self.table = EventTable(KeptBodies())
        self.table.duplicates = DuplicateIndex(self.table, key_of)
        # small enough that most rows are in the merged arrays, the rest recent
        self.table.duplicates._rows = KeyIndex(merge_at)
        self.events: list[BaseEvent] = []
        self.ids: list[UUID] = []
        self.retracted_at: dict[int, int] = {}

    def append(self, event: BaseEvent) -> None:
        row = len(self.events)
        event_id = uuid4()
        self.table.append(
            event_id.bytes,
            msgspec.json.encode(event).decode(),
            event.__struct_config__.tag,
            event.occurred_at.timestamp(),
            self.position(row),
            datetime(2026, 1, 1, tzinfo=UTC).timestamp() + row,
        )
        self.table.duplicates.add(row, event)
        self.events.append(event)
        self.ids.append(event_id)

    def retract(self, row: int, after: int) -> None:
        """Retract ``row`` by a record just after row ``after``."""
        info = RetractedInfo(recorded_at=datetime(2026, 1, 2, tzinfo=UTC), reason="twice")
        self.table.retract(self.ids[row], info, self.position(after) + 1)
        self.retracted_at[row] = self.position(after) + 1

    @staticmethod
    def position(row: int) -> int:
        return 2 * row + 2

    def by_the_rule(self, row: int, now: bool) -> list[UUID]:
        """The domain's rule: the latest ``NAMED_AT_MOST`` earlier look-alikes not
        retracted (by then, or at all with ``now``), in log order."""
        event, before = self.events[row], self.position(row)
        gone = float("inf") if now else before
        return [
            self.ids[other]
            for other in range(row)
            if looks_alike(event, self.events[other]) and self.retracted_at.get(other, gone) >= gone
        ][-NAMED_AT_MOST:]


def _event(kind: str, name: str, hours: int) -> BaseEvent:
    occurred = (datetime(2025, 3, 1, tzinfo=UTC) + timedelta(hours=hours)).isoformat()
    body: dict[str, Any] = {"occurred_at": occurred, "summary": "s"}
    if kind == "signal":
        body |= {"kind": "signal", "label": name}
    elif kind == "negotiation":
        body |= {"kind": "negotiation", "parties": sorted({name, "US"}), "stage": "talks"}
    else:
        body |= {
            "kind": "export_approval",
            "authority": name,
            "category": "ai_chip",
            "product": "H200",
            "destination": "CN",
        }
    return _decoder.decode(msgspec.json.encode(body))


# few names and hours, so that many events look alike (more than NAMED_AT_MOST often)
_events = st.builds(
    _event,
    st.sampled_from(["signal", "negotiation", "export_approval"]),
    st.sampled_from(["bis", " BIS", "mofcom", "ß", "SS"]),
    st.sampled_from([0, 5, 23, 24, 30, 47, 48, 72]),
)


def _asked(log: _Log, rows: Sequence[int]) -> list[tuple[BaseEvent, int]]:
    return [(log.events[row], log.position(row)) for row in rows]


@settings(max_examples=80, deadline=None)
@given(
    events=st.lists(_events, min_size=1, max_size=70),
    retractions=st.lists(st.tuples(st.integers(0, 69), st.integers(0, 69)), max_size=8),
    keys=st.sampled_from(sorted(_KEYS)),
    merge_at=st.sampled_from([3, 16, 1000]),
    tail=st.sampled_from([1, 3, TAIL]),
    batch=st.integers(1, 70),
)
def test_a_batch_gets_the_per_event_answers_and_the_rules(
    events: list[BaseEvent],
    retractions: list[tuple[int, int]],
    keys: str,
    merge_at: int,
    tail: int,
    batch: int,
) -> None:
    """The last ``batch`` events asked together, as an append asks for its batch (each
    below its own position: earlier events of the batch count); then every event, as
    a listing asks, with ``now``."""
    log = _Log(_KEYS[keys], merge_at)
    for event in events:
        log.append(event)
    for row, after in retractions:
        if row < len(events) and row not in log.retracted_at:
            log.retract(row, max(row, min(after, len(events) - 1)))
    duplicates = log.table.duplicates
    rows = range(max(0, len(events) - batch), len(events))
    bulk = all_look_alikes(duplicates, _asked(log, rows), tail=tail)
    assert bulk == [duplicates.look_alikes(log.events[r], log.position(r)) for r in rows]
    assert bulk == [log.by_the_rule(r, now=False) for r in rows]
    as_text = [[str(i) for i in named] for named in bulk]
    assert all_look_alike_texts(duplicates, _asked(log, rows), tail=tail) == as_text
    assert [duplicates.look_alike_texts(log.events[r], log.position(r)) for r in rows] == as_text
    everything = range(len(events))
    listed = all_look_alikes(duplicates, _asked(log, everything), now=True, tail=tail)
    assert listed == [log.by_the_rule(r, now=True) for r in everything]


def test_a_thousand_alike_name_the_latest_ten_before_each() -> None:
    log = _Log(None, 256)
    for _ in range(1300):
        log.append(_event("signal", "benchmark", 0))
    rows = range(300, 1300)
    bulk = all_look_alikes(log.table.duplicates, _asked(log, rows))
    assert bulk == [log.ids[row - NAMED_AT_MOST : row] for row in rows]


def test_rows_of_a_colliding_key_do_not_crowd_out_the_events_own() -> None:
    """Every key equal: the ten rows of another identity filed since the event's
    look-alike are confirmed away, and the look-alike is still named."""
    for key_of in (_KEYS["all equal"], _KEYS["by day"]):
        log = _Log(key_of, 1000)
        log.append(_event("signal", "b", 0))
        for _ in range(NAMED_AT_MOST):
            log.append(_event("signal", "a", 1))
        log.append(_event("signal", "b", 2))
        last = len(log.events) - 1
        expected = [log.ids[0]]
        assert log.table.duplicates.look_alikes(log.events[last], log.position(last)) == expected
        asked = _asked(log, [last])
        assert all_look_alikes(log.table.duplicates, asked, tail=1) == [expected]


def test_nothing_asked_nothing_named() -> None:
    log = _Log(None, 1000)
    assert all_look_alikes(log.table.duplicates, []) == []
    log.append(_event("signal", "a", 0))
    assert all_look_alikes(log.table.duplicates, _asked(log, [0])) == [[]]


def test_a_look_alike_under_a_key_cut_short_is_named_when_newer_than_ten_found() -> None:
    """Ten look-alikes on the event's day, then one on the next day, then on that day
    more rows than a tail holds, out of the event's window: the next day's slice is
    cut short below them, and its look-alike, newer than the ten, is named."""
    log = _Log(None, 1000)
    for _ in range(NAMED_AT_MOST):
        log.append(_event("signal", "a", 30))
    log.append(_event("signal", "a", 48))
    for _ in range(TAIL + 5):
        log.append(_event("signal", "a", 60))
    log.append(_event("signal", "a", 30))
    last = len(log.events) - 1
    expected = log.by_the_rule(last, now=False)
    assert expected == log.ids[1 : NAMED_AT_MOST + 1]
    assert all_look_alikes(log.table.duplicates, _asked(log, [last])) == [expected]


def test_events_far_apart_in_the_log_get_the_per_event_answers() -> None:
    """A page of one kind: positions far apart, each event's row bound found alone."""
    log = _Log(None, 64)
    for i in range(300):
        log.append(_event(["signal", "negotiation"][i % 7 == 0], "bis", i % 3))
    rows = [0, 7, 140, 147, 294]
    duplicates = log.table.duplicates
    expected = [duplicates.look_alikes(log.events[r], log.position(r), now=True) for r in rows]
    assert all_look_alikes(duplicates, _asked(log, rows), now=True) == expected
    assert expected[-1] == [log.ids[r] for r in range(217, 294, 7)][-NAMED_AT_MOST:]
