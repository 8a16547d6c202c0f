"""Event bodies read back from the store: the same as stored, a bounded cache, and
an index that keeps only the latest few answers as one that keeps them all."""

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec
import pytest

from domain.records import EventRecord
from service.persistence.environment import eventsourcing_env
from service.persistence.eventlog import TradewindsStore
from service.projection.catchup import catch_up
from service.projection.index import LogIndex
from service.projection.logprojection import LogProjection
from service.projection.packedbodies import PACK, PackedBodies
from service.projection.storedbodies import StateReader, StoredBodies
from tests.service.events_data import approval
from tests.support.stores import Store

START = datetime(2026, 1, 1, tzinfo=UTC)
EVENTS = 40


@pytest.fixture
def app(store: Store, tmp_path: Path) -> Iterator[TradewindsStore]:
    app = TradewindsStore(env=eventsourcing_env(store.settings(tmp_path / "data")))
    try:
        yield app
    finally:
        app.close()


def _bodies() -> list[str]:
    """Look-alikes in pairs (the same approval, minutes apart), with non-ASCII text."""
    return [
        msgspec.json.encode(
            approval(
                summary=f"approval {i // 2} — Zölle",
                occurred_at=(START + timedelta(days=i // 2, minutes=i % 2)).isoformat(),
                product=f"H{i // 2}",
            )
        ).decode()
        for i in range(EVENTS)
    ]


def _fill(app: TradewindsStore, bodies: list[str]) -> None:
    records = [
        EventRecord.record(UUID(int=i + 1), body, START + timedelta(days=1, seconds=i))
        for i, body in enumerate(bodies)
    ]
    records[5].retract("wrong", START + timedelta(days=2))
    app.events.put([e for r in records for e in r.collect_events()])


def _index(app: TradewindsStore, store: Any, pack: int = PACK) -> LogIndex:
    """Caught up, reading back all but the latest 2 bodies."""
    index = LogIndex(store, cache=2, pack=pack)
    catch_up(app, LogProjection(index), index)
    return index


def _answers(index: LogIndex) -> list[Any]:
    page, _ = index.list_events(after=0, limit=EVENTS)
    one = [index.table.get_shown(UUID(int=i + 1)) for i in range(EVENTS)]
    scanned = [(e, i, p, r) for e, i, p, r in index.table.of_kinds(frozenset({"export_approval"}))]
    return [msgspec.to_builtins(x) for x in (page, one, scanned)]


def test_the_store_gives_back_each_body_as_stored(app: TradewindsStore) -> None:
    bodies = _bodies()
    _fill(app, bodies)
    index = _index(app, app.recorder)
    assert [index.table.body(row) for row in range(EVENTS)] == bodies
    assert index.table.bodies_of([7, 3, 7]) == [bodies[7], bodies[3], bodies[7]]
    dense, sparse = list(range(5, 30)), [0, 20, EVENTS - 1]
    assert index.table.bodies_of(dense) == bodies[5:30]  # read as a range
    assert index.table.bodies_of(sparse) == [bodies[i] for i in sparse]  # by position


def test_the_cache_keeps_the_latest_bodies_only(app: TradewindsStore) -> None:
    bodies = _bodies()
    _fill(app, bodies)
    assert isinstance(app.recorder, StateReader)
    cache = StoredBodies(app.recorder, size=3)
    for position, body in enumerate(bodies, start=1):
        cache.keep(position, body)
        assert len(cache) == min(position, 3)
    assert cache.read([EVENTS - 1, 1]) == [bodies[EVENTS - 2], bodies[0]]


def test_an_index_reading_bodies_back_answers_as_one_keeping_them(app: TradewindsStore) -> None:
    _fill(app, _bodies())
    stored, kept = _index(app, app.recorder), _index(app, None)
    answers = _answers(stored)
    assert answers == _answers(kept)
    page = answers[0]
    assert page[5]["retracted"]["reason"] == "wrong"
    assert page[1]["possible_duplicates"] == [str(UUID(int=1))]
    assert isinstance(stored.table.bodies, StoredBodies)


class CountingReader:
    """The store's own reads, counting the positions asked for."""

    def __init__(self, store: StateReader) -> None:
        self.store = store
        self.read: list[int] = []

    def states_at(self, positions: Sequence[int]) -> dict[int, bytes]:
        self.read += positions
        return self.store.states_at(positions)

    def states_between(self, first: int, last: int) -> list[tuple[int, bytes]]:
        self.read += range(first, last + 1)
        return self.store.states_between(first, last)


def _scanned(index: LogIndex) -> list[Any]:
    found = index.table.of_kinds(frozenset({"export_approval", "signal"}))
    return [msgspec.to_builtins(x) for x in found]


def test_a_scan_reads_from_the_store_once_what_later_scans_take_from_packs(
    app: TradewindsStore,
) -> None:
    _fill(app, _bodies())
    assert isinstance(app.recorder, StateReader)
    reader = CountingReader(app.recorder)
    packed = _index(app, reader, pack=6)
    kept = _scanned(_index(app, None))
    assert _scanned(packed) == kept
    first_read = set(reader.read)
    assert len(first_read) >= EVENTS - 2  # all but the cached latest two
    reader.read.clear()
    assert _scanned(packed) == kept
    # 6 full packs of 6 events: only the last 4 events (2 of them cached) are read again
    tail = {packed.table.positions[row] for row in range(36, EVENTS)}
    assert reader.read
    assert set(reader.read) <= tail


def test_a_pack_gives_back_its_bodies_and_holds_only_full_packs() -> None:
    packs = PackedBodies(size=3)
    bodies = ["{}", '{"s":"Zölle\\n"}', "x" * 500]
    assert packs.get(0) is None
    with pytest.raises(ValueError, match="holds 3"):
        packs.put(0, bodies[:2])
    packs.put(0, bodies)
    packs.put(0, ["a", "b", "c"])  # made twice: the first stays
    assert packs.get(0) == bodies
    assert len(packs) == 1
    assert packs.held_bytes() < sum(map(len, bodies))


class _NoStore:
    """A store that holds nothing: what the ring does not keep reads as missing."""

    def states_at(self, positions: Sequence[int]) -> dict[int, bytes]:
        return {}

    def states_between(self, first: int, last: int) -> list[tuple[int, bytes]]:
        return []


@pytest.mark.parametrize("count", [3, 8, 21])
def test_keeping_a_run_at_once_keeps_what_keeping_each_keeps(count: int) -> None:
    at_once, each = StoredBodies(_NoStore(), size=8), StoredBodies(_NoStore(), size=8)
    positions = [5 + 2 * i for i in range(count)]
    bodies = [f"body {p}" for p in positions]
    at_once.keep_many(positions, bodies)
    for position, body in zip(positions, bodies, strict=True):
        each.keep(position, body)
    assert at_once._latest == each._latest
    kept = [p for p in positions if (p, f"body {p}") in each._latest]
    assert at_once.read(kept) == [f"body {p}" for p in kept]


@pytest.mark.parametrize(("first", "count"), [(5, 1), (5, 3), (6, 8), (5, 8), (3, 13), (1, 21)])
def test_keeping_a_run_of_the_log_at_once_keeps_what_keeping_each_keeps(
    first: int, count: int
) -> None:
    """Consecutive positions (a run the index applies) fill the ring as slices: those
    that wrap past its end, or outnumber its slots, included."""
    at_once, each = StoredBodies(_NoStore(), size=8), StoredBodies(_NoStore(), size=8)
    for ring in (at_once, each):
        ring.keep(2, "older")
    positions = list(range(first, first + count))
    bodies = [f"body {p}" for p in positions]
    at_once.keep_many(positions, bodies)
    for position, body in zip(positions, bodies, strict=True):
        each.keep(position, body)
    assert at_once._latest == each._latest
    kept = positions[-8:]
    assert at_once.read(kept) == [f"body {p}" for p in kept]
