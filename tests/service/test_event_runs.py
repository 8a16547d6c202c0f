"""World events applied in runs (``LogIndex.add_events``) give the index that
applying them one by one gives, and a position applied twice stops the run there."""

from datetime import UTC, datetime, timedelta
from uuid import UUID

import msgspec
import pytest
from eventsourcing.persistence import IntegrityError

from service.projection.index import RUN, LogIndex
from tests.service.events_data import approval, signal

START = datetime(2026, 1, 1, tzinfo=UTC)


def _records(count: int, first: int = 1) -> list[tuple[bytes, str, datetime, int]]:
    records = []
    for i in range(first, first + count):
        body = approval(summary=f"a {i}") if i % 3 == 0 else signal(f"s{i % 7}")
        body["occurred_at"] = (START + timedelta(hours=i)).isoformat()
        text = msgspec.json.encode(body).decode()
        records.append((UUID(int=i).bytes, text, START + timedelta(seconds=i), i))
    return records


def _state(index: LogIndex) -> list[object]:
    table = index.table
    rows = range(len(table))
    return [
        index.position,
        [msgspec.to_builtins(event) for event in table.all_shown(rows)],
        [table.row_of(UUID(int=i + 1)) for i in rows],
        table.count_of_kinds(frozenset({"signal"})),
    ]


def test_runs_give_the_index_of_one_by_one() -> None:
    records = _records(3 * RUN + 5)
    at_once, one_by_one = LogIndex(), LogIndex()
    at_once.add_events(records)
    for record in records:
        one_by_one.add_events([record])
    assert _state(at_once) == _state(one_by_one)
    assert any(event["possible_duplicates"] for event in _state(at_once)[1])  # type: ignore[index]


def test_a_position_applied_twice_stops_the_run_after_those_before_it() -> None:
    index = LogIndex()
    index.add_events(_records(10))
    again = [*_records(5, first=11), *_records(1, first=3), *_records(5, first=16)]
    with pytest.raises(IntegrityError, match="position 3 applied twice"):
        index.add_events(again)
    assert index.position == 15
    assert len(index.table) == 15
    assert index.table.row_of(UUID(int=16)) is None
